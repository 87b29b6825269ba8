import OpenAI from 'openai';
import { ForgeError } from '../errors.js';
import { explainConnectionError } from './connection-error.js';

/** What to do with one failed API call. */
export type FailureVerdict =
  | { kind: 'retry'; reason: string; waitHintMs: number | null; unreachable?: boolean; hint?: string }
  | { kind: 'fatal'; reason: string; status: number | undefined; hint: string };

/**
 * 429, 5xx, timeouts and dropped connections are worth another try; 401/403/404 and 400 (usually an unknown
 * model or a parameter the server rejects) will fail the same way every time, so they stop the run.
 * A connection error names its cause and host:port (`baseURL` is the fallback when the socket error has none).
 * Reasons hold what the server said: the caller redacts them.
 */
export function classifyFailure(err: unknown, baseURL = ''): FailureVerdict {
  if (err instanceof OpenAI.APIConnectionTimeoutError) return { kind: 'retry', reason: 'request timed out', waitHintMs: null };
  if (err instanceof OpenAI.APIConnectionError) {
    const c = explainConnectionError(err, baseURL);
    return { kind: 'retry', reason: c.reason, waitHintMs: null, unreachable: c.unreachable, ...(c.hint ? { hint: c.hint } : {}) };
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status;
    const hint = waitHintFromHeaders(err.headers);
    if (status === 429) return { kind: 'retry', reason: 'rate limited (429)', waitHintMs: hint };
    if (status === 408 || status === 409) return { kind: 'retry', reason: `HTTP ${status}`, waitHintMs: hint };
    const detail = firstLine(err.message);
    // The server's own words (overloaded, out of memory…) are what tells a user whether to wait or act.
    if (status !== undefined && status >= 500) return { kind: 'retry', reason: `server error (${status})${err.error === undefined ? '' : `: ${detail.replace(/^\d{3}\s+/, '')}`}`, waitHintMs: hint };
    if (status === 401) return { kind: 'fatal', status, reason: `authentication failed (401): ${detail}`, hint: 'check the API key in the environment variable named by generation.apiKeyEnv (default OPENAI_API_KEY)' };
    if (status === 403) return { kind: 'fatal', status, reason: `permission denied (403): ${detail}`, hint: 'this key may not use this model or endpoint' };
    if (status === 404) return { kind: 'fatal', status, reason: `not found (404): ${detail}`, hint: 'check --model and --base-url (the base URL usually ends in /v1)' };
    if (status === 400) return { kind: 'fatal', status, reason: `request rejected (400): ${detail}`, hint: 'check --model and the sampling settings; the server said what it did not accept' };
    return { kind: 'fatal', status, reason: `HTTP ${status ?? '?'}: ${detail}`, hint: 'see the message above' };
  }
  if (err instanceof InvalidResponseError) return { kind: 'retry', reason: err.message, waitHintMs: null };
  return { kind: 'fatal', status: undefined, reason: err instanceof Error ? err.message : String(err), hint: 'unexpected error; rerun with FORGE_DEBUG=1 for details' };
}

/** The endpoint answered 200 with something that is not a chat completion. */
export class InvalidResponseError extends ForgeError {
  constructor(message: string) {
    super('api', message);
    this.name = 'InvalidResponseError';
  }
}

/** Retry-After (seconds or HTTP date), retry-after-ms, or OpenAI's x-ratelimit-reset-* ("1s", "6m0s", "20ms"). */
export function waitHintFromHeaders(headers: Headers | undefined, nowMs = Date.now()): number | null {
  if (!headers) return null;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get('retry-after');
  if (ra !== null) {
    if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.max(0, Number(ra) * 1000);
    const at = Date.parse(ra);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  const resets = ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens']
    .map((h) => headers.get(h))
    .filter((v): v is string => v !== null)
    .map(parseDuration)
    .filter((v): v is number => v !== null);
  return resets.length ? Math.max(...resets) : null;
}

/** "1s", "6m0s", "1h2m3.5s", "20ms", "0.5" (seconds) → milliseconds. */
export function parseDuration(s: string): number | null {
  const t = s.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of t.matchAll(re)) {
    const v = Number(m[1]);
    total += m[2] === 'h' ? v * 3_600_000 : m[2] === 'm' ? v * 60_000 : m[2] === 's' ? v * 1000 : v;
    matched += m[0];
  }
  return matched.length === t.length && matched.length > 0 ? total : null;
}

/** "Equal jitter" exponential backoff: half the capped exponential delay, plus a random share of the other half. */
export function backoffMs(attempt: number, random: () => number, baseMs = 500, capMs = 60_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
