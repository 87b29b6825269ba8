import { useEffect, useReducer, useRef, type ReactNode } from 'react';
import { Box } from 'ink';
import { useKeys } from './use-keys.js';
import { Text } from './text.js';
import { HelpOverlay } from './help-overlay.js';
import { formatError } from '../../errors.js';
import { commandFor, keyNames } from '../keys.js';
import { useTerminalSize } from '../terminal-size.js';
import { useTone, type Tone } from '../theme.js';

/** What a job screen hands its engine: the stop signal, the event callback and the pause flag. */
export interface JobHooks<E> {
  signal: AbortSignal;
  onEvent: (e: E) => void;
  /** Read by the engine before each new request; only a pausable job's key sets it. */
  pause: { paused: boolean };
}

/** The shell's own state beside the engine's: what the keys did and whether the engine threw. */
export interface JobFlags {
  /** the user pressed p; no new requests start */
  paused: boolean;
  /** the user pressed q; the engine is finishing what is in flight */
  stopping: boolean;
  /** the engine threw (config, auth…): shown instead of progress */
  error: string | null;
}

/** The key table's scopes of job screens: each has `help` and `stop` keys (generate also `pause`). */
export type JobScope = 'generate' | 'train' | 'respond' | 'judge';

export interface JobOptions<S, E extends { type: string }> {
  /** The key table's scope: its `help` and `stop` keys (and `pause`, when pausable). */
  scope: JobScope;
  initial: S;
  reduce: (s: S, e: E) => S;
  /** Starts the engine; resolves when it has stopped (finished, stopped by the key, or out of budget). */
  start: (hooks: JobHooks<E>) => Promise<unknown>;
  /** The user left after the engine stopped. */
  onExit: () => void;
  pausable?: boolean;
}

type Action<E> = { kind: 'event'; event: E } | { kind: 'pause'; paused: boolean } | { kind: 'stopping' } | { kind: 'error'; message: string };

/**
 * One job screen's life: starts the engine once, folds its events, and handles the keys every job shares (help,
 * pause, stop, leave). The first stop aborts the engine, which saves what is in flight; once it has stopped the same
 * key leaves. Generate and train use it; so does any later job (respond, judge).
 */
export function useJob<S, E extends { type: string }>(opts: JobOptions<S, E>): { state: S; flags: JobFlags; help: boolean } {
  const { scope, initial, reduce, start, onExit, pausable = false } = opts;
  const [box, dispatch] = useReducer(
    (b: { state: S; flags: JobFlags }, a: Action<E>) => {
      if (a.kind === 'event') return { state: reduce(b.state, a.event), flags: a.event.type === 'done' ? { ...b.flags, stopping: false } : b.flags };
      if (a.kind === 'pause') return { ...b, flags: { ...b.flags, paused: a.paused } };
      if (a.kind === 'stopping') return { ...b, flags: { ...b.flags, stopping: true } };
      return { ...b, flags: { ...b.flags, error: a.message, stopping: false } };
    },
    { state: initial, flags: { paused: false, stopping: false, error: null } },
  );
  // A ref: keys arriving in one read must see the overlay the previous key opened or closed.
  const helpRef = useRef(false);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const controller = useRef(new AbortController());
  const pause = useRef({ paused: false });
  const finished = useRef(false);

  useEffect(() => {
    const ctl = controller.current;
    start({ signal: ctl.signal, onEvent: (event) => dispatch({ kind: 'event', event }), pause: pause.current }).then(
      () => {
        finished.current = true;
        dispatch({ kind: 'pause', paused: false });
      },
      (err: unknown) => {
        finished.current = true;
        dispatch({ kind: 'error', message: formatError(err) });
      },
    );
    return () => ctl.abort();
  }, [start]);

  useKeys((input, key) => {
    redraw();
    for (const name of keyNames(input, key)) {
      if (helpRef.current) {
        if (commandFor('overlay', name) === 'close') helpRef.current = false;
        continue;
      }
      const cmd: string | undefined = commandFor(scope as JobScope, name);
      if (cmd === 'help') helpRef.current = true;
      else if (cmd === 'pause' && pausable && !finished.current && !controller.current.signal.aborted) {
        pause.current.paused = !pause.current.paused;
        dispatch({ kind: 'pause', paused: pause.current.paused });
      } else if (cmd === 'stop') {
        if (finished.current) return onExit();
        if (!controller.current.signal.aborted) {
          // A paused engine must wake up to notice the stop.
          pause.current.paused = false;
          controller.current.abort();
          dispatch({ kind: 'stopping' });
        }
      }
    }
  });

  return { state: box.state, flags: box.flags, help: helpRef.current };
}

/** The status line's text and tone, most urgent first: an error, the end, stopping, paused, then the screen's own. */
export function jobStatus(flags: JobFlags, own: { done: { text: string; tone: Tone } | null; stopping: string; idle: { text: string; tone: Tone } }): { text: string; tone: Tone } {
  if (flags.error) return { text: flags.error, tone: 'bad' };
  if (own.done) return { text: `${own.done.text}  (q to leave)`, tone: own.done.tone };
  if (flags.stopping) return { text: own.stopping, tone: 'warn' };
  if (flags.paused) return { text: 'paused: no new requests start (p resumes)', tone: 'warn' };
  return own.idle;
}

export interface JobFrameProps {
  scope: JobScope;
  help: boolean;
  /** the rest of the title line, after the job's name */
  title: string;
  status: { text: string; tone: Tone };
  /** the least height the body needs */
  minHeight: number;
  children: (size: { columns: number; height: number }) => ReactNode;
}

/** The frame every job screen shares: the help overlay, or the title line, the body and the status line. */
export function JobFrame({ scope, help, title, status, minHeight, children }: JobFrameProps) {
  const { columns, rows } = useTerminalSize();
  const tone = useTone();
  const height = Math.max(minHeight, rows - 1);
  if (help) {
    return (
      <Box height={height}>
        <HelpOverlay scope={scope} title={`${scope} keys`} width={columns} />
      </Box>
    );
  }
  return (
    <Box flexDirection="column" width={columns} height={height}>
      <Text wrap="truncate-end">
        <Text bold color={tone('accent')}>
          {scope}
        </Text>{' '}
        {title}
      </Text>
      {children({ columns, height })}
      <Text wrap="truncate-end" color={tone(status.tone)}>
        {status.text}
      </Text>
    </Box>
  );
}
