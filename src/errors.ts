/**
 * One error family for everything a user can fix. Each error says what went wrong (message) and what to do
 * next (hint); the CLI prints both on one line each and exits with `exitCode`. Never put an API key in either.
 */
export type ForgeErrorCode =
  | 'usage'
  | 'config'
  | 'data'
  | 'model'
  | 'api'
  | 'budget'
  | 'store'
  | 'interrupted'
  | 'output-closed'
  | 'internal';

const exitCodes: Record<ForgeErrorCode, number> = {
  usage: 2,
  config: 3,
  data: 4,
  model: 5,
  api: 6,
  budget: 7,
  store: 8,
  interrupted: 130,
  // The reader of stdout went away (`… | head`): what a process killed by SIGPIPE reports, as `set -o pipefail` expects.
  'output-closed': 141,
  internal: 1,
};

export function exitCodeOf(code: ForgeErrorCode): number {
  return exitCodes[code];
}

export class ForgeError extends Error {
  readonly code: ForgeErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(code: ForgeErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ForgeError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = exitCodes[code];
  }
}

/** Bad command-line arguments. */
export class UsageError extends ForgeError {
  constructor(message: string, hint?: string) {
    super('usage', message, hint === undefined ? {} : { hint });
    this.name = 'UsageError';
  }
}

/** A config file that does not validate: one entry per problem, each naming file, line and field. */
export class ConfigError extends ForgeError {
  readonly problems: string[];
  constructor(problems: string[], hint = 'fix the field(s) above, or run `alpaca-forge init` for a commented default') {
    super('config', problems.join('\n'), { hint });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A data file (dataset, seeds, model file) that cannot be read as expected. */
export class DataError extends ForgeError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super('data', message, { ...(hint === undefined ? {} : { hint }), cause });
    this.name = 'DataError';
  }
}

/** A model directory or checkpoint that cannot be loaded. */
export class ModelError extends ForgeError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super('model', message, { ...(hint === undefined ? {} : { hint }), cause });
    this.name = 'ModelError';
  }
}

/** The chat API answered something we cannot continue from (401, unknown model, endpoint down for good). */
export class ApiError extends ForgeError {
  readonly status: number | undefined;
  constructor(message: string, status?: number, hint?: string) {
    super('api', message, hint === undefined ? {} : { hint });
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Formats any thrown value for the terminal: one line of message (per problem), one line of hint. */
export function formatError(err: unknown): string {
  if (err instanceof ForgeError) {
    return `error: ${err.message}${err.hint ? `\n  → ${err.hint}` : ''}`;
  }
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}
