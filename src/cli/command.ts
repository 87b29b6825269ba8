import type { ParseArgsConfig } from 'node:util';

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
  /** Where normal output goes (stdout). */
  out: (line: string) => void;
  /** Where diagnostics/progress go (stderr). */
  err: (line: string) => void;
  /** True when stdout is a terminal and CI is not set: decides progress-line vs plain log lines. */
  interactive: boolean;
  /** Aborted on the first Ctrl-C (SIGINT/SIGTERM): long jobs stop gracefully and stay resumable. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Returns the process exit code. */
  run(ctx: CommandContext): Promise<number>;
}
