import type { ParseArgsConfig } from 'node:util';
import type { OutputMode } from './output-mode.js';

/** Options in node:util parseArgs form; every command's flags are declared here, not parsed ad hoc. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CommandContext {
  /** Parsed flags (strings/booleans, as parseArgs gives them). */
  values: ParsedValues;
  /** Positional arguments after the command name. */
  positionals: string[];
  /** The process environment; only the CLI layer reads process.env. */
  env: NodeJS.ProcessEnv;
  /** The arguments after the program name, as typed: for "resume with: alpaca-forge …" lines. */
  argv: string[];
  /** Where normal output goes (stdout), one line per call. Once the reader of a pipe has gone, a no-op. */
  out: (line: string) => void;
  /** Where diagnostics/progress go (stderr), one line per call. */
  err: (line: string) => void;
  /** stdout without an added newline (datasets written to `-`, JSON event streams). */
  write: (text: string) => void;
  /** stderr without an added newline (live progress lines). */
  writeErr: (text: string) => void;
  /** TTY, plain or JSON; colour; width. Decided once in main. */
  output: OutputMode;
  /** The terminal's streams when the full-screen UI may open (output.screen), else null. */
  terminal: { stdin: NodeJS.ReadStream; stdout: NodeJS.WriteStream } | null;
  /** True when stdout is a terminal and CI is not set (kept for callers written before `output`). */
  interactive: boolean;
  /** Aborted on the first Ctrl-C (SIGINT/SIGTERM): long jobs stop gracefully and stay resumable. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** What the first Ctrl-C does, printed when it comes (default: "stopping…"). */
  onInterrupt?: string;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}
