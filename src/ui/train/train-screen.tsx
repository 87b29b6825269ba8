import { useEffect, useReducer, useRef } from 'react';
import { Box, useInput } from 'ink';
import { Text } from '../components/text.js';
import { formatError } from '../../errors.js';
import type { TrainEvent } from '../../events.js';
import { HelpOverlay } from '../components/help-overlay.js';
import { formatDuration, formatInt, formatRate, progressBar } from '../format.js';
import { commandFor, hintLine, keyNames } from '../keys.js';
import { useTerminalSize } from '../terminal-size.js';
import { useTone, type Tone } from '../theme.js';
import { lineChart } from './line-chart.js';
import { initialTrainState, reduceTrain, type TrainState } from './train-state.js';

export interface TrainingHooks {
  signal: AbortSignal;
  onEvent: (e: TrainEvent) => void;
}

export interface TrainScreenProps {
  /** what is trained, for the header (run or data file → output directory) */
  title: string;
  /** Starts training; resolves when it has stopped (finished, or stopped by the key with a checkpoint saved). */
  start: (hooks: TrainingHooks) => Promise<unknown>;
  onExit: () => void;
}

type Action = { kind: 'event'; event: TrainEvent } | { kind: 'stopping' } | { kind: 'error'; message: string };

function reducer(s: TrainState, a: Action): TrainState {
  if (a.kind === 'event') return reduceTrain(s, a.event);
  if (a.kind === 'stopping') return { ...s, stopping: true };
  return { ...s, error: a.message, stopping: false };
}

const seriesTone: Tone[] = ['accent', 'warn'];

export function TrainScreen({ title, start, onExit }: TrainScreenProps) {
  const [state, dispatch] = useReducer(reducer, initialTrainState);
  // A ref: keys arriving in one read must see the overlay the previous key opened or closed.
  const helpRef = useRef(false);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const controller = useRef(new AbortController());
  const finished = useRef(false);
  const { columns, rows } = useTerminalSize();
  const tone = useTone();

  useEffect(() => {
    const ctl = controller.current;
    start({ signal: ctl.signal, onEvent: (event) => dispatch({ kind: 'event', event }) }).then(
      () => {
        finished.current = true;
      },
      (err: unknown) => {
        finished.current = true;
        dispatch({ kind: 'error', message: formatError(err) });
      },
    );
    return () => ctl.abort();
  }, [start]);

  useInput((input, key) => {
    redraw();
    for (const name of keyNames(input, key)) {
      if (helpRef.current) {
        if (commandFor('overlay', name) === 'close') helpRef.current = false;
        continue;
      }
      const cmd = commandFor('train', name);
      if (cmd === 'help') helpRef.current = true;
      else if (cmd === 'stop') {
        if (finished.current) return onExit();
        if (!controller.current.signal.aborted) {
          controller.current.abort();
          dispatch({ kind: 'stopping' });
        }
      }
    }
  });

  const height = Math.max(12, rows - 1);
  if (helpRef.current) {
    return (
      <Box height={height}>
        <HelpOverlay scope="train" title="train keys" width={columns} />
      </Box>
    );
  }

  const st = state.start;
  const last = state.last;
  const plan = st?.plan;
  const total = last?.total ?? plan?.totalSteps ?? 0;
  const step = last?.step ?? plan?.resumedFromStep ?? 0;
  const counts = `step ${formatInt(step)}/${formatInt(total)}`;
  const lastEval = state.evalLoss[state.evalLoss.length - 1];
  const chartHeight = Math.max(4, height - 9 - state.warnings.length);
  const chart = lineChart(
    [
      { points: state.loss, glyph: '•' },
      { points: state.evalLoss, glyph: '◆' },
    ],
    columns,
    chartHeight - 1,
    total,
  );

  let statusLine: { text: string; tone: Tone };
  if (state.error) statusLine = { text: state.error, tone: 'bad' };
  else if (state.done) {
    const d = state.done;
    statusLine = {
      text: `${d.interrupted ? 'stopped' : 'finished'} at step ${d.step}/${d.totalSteps} in ${formatDuration(d.seconds)} · adapter in ${d.adapterDir}  (q to leave)`,
      tone: d.interrupted ? 'warn' : 'good',
    };
  } else if (state.stopping) statusLine = { text: 'stopping: saving a checkpoint…', tone: 'warn' };
  else if (state.phase) statusLine = { text: `${state.phase}…`, tone: 'info' };
  else statusLine = { text: hintLine('train', ['stop', 'help']), tone: 'muted' };

  return (
    <Box flexDirection="column" width={columns} height={height}>
      <Text wrap="truncate-end">
        <Text bold color={tone('accent')}>
          train
        </Text>{' '}
        {title}
        {st ? ` · backend ${st.backend} · ${st.device}` : ''}
      </Text>
      <Text wrap="truncate-end" color={tone('muted')}>
        {plan
          ? `plan: ${formatInt(plan.trainExamples)} train / ${formatInt(plan.valExamples)} eval examples` +
            (plan.droppedExamples ? ` (${plan.droppedExamples} dropped)` : '') +
            ` · ${plan.epochs} epochs × ${formatInt(plan.stepsPerEpoch)} = ${formatInt(plan.totalSteps)} steps · ${plan.microBatchesPerStep} micro-batches/step`
          : 'plan: computing…'}
      </Text>
      <Text wrap="truncate-end" color={tone('muted')}>
        {plan
          ? `      ${formatInt(plan.trainableParams)} trainable of ${formatInt(plan.totalParams)} params (${((100 * plan.trainableParams) / Math.max(1, plan.totalParams)).toFixed(2)}%)` +
            ` · ${formatInt(plan.trainTokensPerEpoch)} tokens/epoch` +
            (plan.workers > 1 ? ` · ${plan.workers} workers` : '') +
            (plan.maxPassTokens ? ` · passes of ≤${formatInt(plan.maxPassTokens)} tokens` : '') +
            (plan.resumedFromStep ? ` · resumed from step ${plan.resumedFromStep}` : '')
          : ''}
      </Text>
      <Text>
        <Text color={tone('good')}>{progressBar(step, total, Math.max(10, columns - counts.length - 2))}</Text> {counts}
      </Text>
      <Text wrap="truncate-end">
        {'loss '}
        <Text bold color={tone(seriesTone[0])}>
          • {last ? last.loss.toFixed(4) : '—'}
        </Text>
        {'  eval '}
        <Text bold color={tone(seriesTone[1])}>
          ◆ {lastEval ? `${lastEval[1].toFixed(4)} (step ${lastEval[0]})` : '—'}
        </Text>
        {'  lr '}
        {last ? last.lr.toExponential(2) : '—'}
        {'  '}
        {formatRate(last?.tokensPerSec ?? 0, 'tok/s')}
        {'  epoch '}
        {last ? last.epoch.toFixed(2) : '—'}
        {'  ETA '}
        <Text bold>{state.done ? '—' : formatDuration(last?.etaSec)}</Text>
      </Text>
      <Text wrap="truncate-end" color={tone('muted')}>
        {last ? `grad norm ${last.gradNorm.toFixed(3)}` : ''}
        {state.lastCheckpoint ? `  last checkpoint: step ${state.lastCheckpoint.step} → ${state.lastCheckpoint.dir}` : ''}
      </Text>
      {state.warnings.map((w, i) => (
        <Text key={i} wrap="truncate-end" color={tone('warn')}>
          ! {w}
        </Text>
      ))}
      <Box flexDirection="column" height={chartHeight} marginTop={1} overflow="hidden">
        {chart.rows.map((runs, r) => (
          <Text key={r}>
            {runs.map((run, i) => (
              <Text key={i} color={run.series === -1 ? tone('muted') : tone(seriesTone[run.series])}>
                {run.text}
              </Text>
            ))}
          </Text>
        ))}
      </Box>
      <Text wrap="truncate-end" color={tone(statusLine.tone)}>
        {statusLine.text}
      </Text>
    </Box>
  );
}
