import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * The one way tests start the CLI: the built binary, as a user runs it (`npm test` builds first), with CI=1 unless
 * a test says otherwise. Tests that must act on a running process wait for a line it prints (waitForLine), never a
 * fixed time.
 */
export const CLI = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run \`npm run build\` first (npm test does)`);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export type Stream = 'stdout' | 'stderr';

/** A running CLI: its output so far, line by line, and its end. */
export interface CliProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Complete lines printed so far on each stream. */
  lines: Record<Stream, string[]>;
  /** Everything printed so far on each stream. */
  text: Record<Stream, string>;
  /** Resolves when the process has exited and its output is read to the end. */
  exited: Promise<RunResult>;
}

type LineListener = (stream: Stream, line: string) => void;
const lineListeners = new WeakMap<CliProcess, Set<LineListener>>();

export function spawnCli(args: string[], opts: CliOptions = {}): CliProcess {
  assertBuilt();
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? process.cwd(), env: { ...process.env, CI: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: CliProcess = {
    child,
    lines: { stdout: [], stderr: [] },
    text: { stdout: '', stderr: '' },
    exited: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout: proc.text.stdout, stderr: proc.text.stderr }));
    }),
  };
  const listeners = new Set<LineListener>();
  lineListeners.set(proc, listeners);
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream].on('data', (d: Buffer) => {
      const s = d.toString();
      proc.text[stream] += s;
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        proc.lines[stream].push(line);
        for (const l of listeners) l(stream, line);
      }
    });
  }
  return proc;
}

/** Runs the CLI to the end; killed (SIGKILL) after timeoutMs, default 60 s. */
export async function runCli(args: string[], opts: CliOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const proc = spawnCli(args, opts);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves with the first line on `stream` (default stdout) that `predicate` accepts, looking at lines already
 * printed too. Rejects, with the output so far, if the process exits first or nothing matches within timeoutMs.
 */
export function waitForLine(proc: CliProcess, predicate: (line: string) => boolean, opts: { stream?: Stream; timeoutMs?: number } = {}): Promise<string> {
  const stream = opts.stream ?? 'stdout';
  const seen = proc.lines[stream].find(predicate);
  if (seen !== undefined) return Promise.resolve(seen);
  const listeners = lineListeners.get(proc)!;
  return new Promise((resolve, reject) => {
    const onLine: LineListener = (s, line) => {
      if (s !== stream || !predicate(line)) return;
      done();
      resolve(line);
    };
    const fail = (why: string) => {
      done();
      reject(new Error(`${why} before the awaited line on ${stream}\n--- stdout:\n${proc.text.stdout.slice(-2000)}\n--- stderr:\n${proc.text.stderr.slice(-2000)}`));
    };
    const onClose = (code: number | null, signal: NodeJS.Signals | null) => fail(`the CLI exited (${signal ?? code})`);
    const timer = setTimeout(() => fail(`no match within ${opts.timeoutMs ?? 60_000} ms`), opts.timeoutMs ?? 60_000);
    const done = () => {
      clearTimeout(timer);
      listeners.delete(onLine);
      proc.child.off('close', onClose);
    };
    listeners.add(onLine);
    proc.child.on('close', onClose);
  });
}

/** A predicate for JSON-lines output: the line parses and `match` accepts the object. */
export function jsonLine<T = Record<string, unknown>>(match: (event: T) => boolean): (line: string) => boolean {
  return (line) => {
    let event: T;
    try {
      event = JSON.parse(line) as T;
    } catch {
      return false;
    }
    return match(event);
  };
}
