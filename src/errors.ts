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

/** The one table of exit codes: the CLI returns these, never a literal. */
export const exitCodes: Readonly<Record<ForgeErrorCode, number>> = {
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

/** The exit code of a failure of this kind (an error, or an outcome such as an interrupted or endpoint-down run). */
export function exitCodeFor(code: ForgeErrorCode): number {
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

/**
 * The endpoint has never answered in this process and refuses connections, has no DNS name or fails TLS: almost
 * always a wrong URL or a server not yet started, so the run stops within seconds instead of pausing for an hour.
 * `hint` is the whole hint (the default says to start the server or fix the URL, then run again).
 */
export class EndpointUnreachableError extends ApiError {
  constructor(message: string, hint = 'start the server, or fix --base-url / generation.baseUrl (e.g. http://localhost:8000/v1); then run the same command again') {
    super(message, undefined, hint);
    this.name = 'EndpointUnreachableError';
  }
}

/** The run database cannot be opened, is from a newer version, is locked by another process… */
export class StoreError extends ForgeError {
  constructor(message: string, hint?: string) {
    super('store', message, hint === undefined ? {} : { hint });
    this.name = 'StoreError';
  }
}

/** What crosses a worker-thread boundary for an error: structured clone would keep neither the class nor the hint. */
export interface SerializedError {
  name: string;
  message: string;
  code?: ForgeErrorCode;
  hint?: string;
  /** ApiError's HTTP status. */
  status?: number;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const out: SerializedError = { name: e.name, message: e.message };
  if (e.stack !== undefined) out.stack = e.stack;
  if (e instanceof ForgeError) {
    out.code = e.code;
    if (e.hint !== undefined) out.hint = e.hint;
    if (e instanceof ApiError && e.status !== undefined) out.status = e.status;
  }
  return out;
}

const revivers: Record<string, (s: SerializedError) => ForgeError> = {
  UsageError: (s) => new UsageError(s.message, s.hint),
  ConfigError: (s) => new ConfigError(s.message.split('\n'), s.hint),
  DataError: (s) => new DataError(s.message, s.hint),
  ModelError: (s) => new ModelError(s.message, s.hint),
  ApiError: (s) => new ApiError(s.message, s.status, s.hint),
  EndpointUnreachableError: (s) => new EndpointUnreachableError(s.message, s.hint),
  StoreError: (s) => new StoreError(s.message, s.hint),
};

/**
 * The other side of `serializeError`: a ForgeError comes back as its own class (or, for a subclass defined outside
 * this file, as a ForgeError with the same name, code and hint), so exit code and hint survive the thread.
 * Anything else comes back as a plain Error with its name, for the caller to wrap with context.
 */
export function reviveError(s: SerializedError): Error {
  let e: Error;
  if (s.code !== undefined && s.code in exitCodes) {
    const revive = revivers[s.name];
    e = revive ? revive(s) : new ForgeError(s.code, s.message, s.hint === undefined ? {} : { hint: s.hint });
  } else {
    e = new Error(s.message);
  }
  e.name = s.name;
  if (s.stack !== undefined) e.stack = s.stack;
  return e;
}

/** Formats any thrown value for the terminal: one line of message (per problem), one line of hint. */
export function formatError(err: unknown): string {
  if (err instanceof ForgeError) {
    return `error: ${err.message}${err.hint ? `\n  → ${err.hint}` : ''}`;
  }
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}
