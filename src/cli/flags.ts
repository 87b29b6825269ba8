import { UsageError } from '../errors.js';
import type { ParsedValues } from './command.js';

/** Typed readers for parsed flags; each names the flag in its error so the user knows what to fix. */
export function flagString(values: ParsedValues, name: string): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} expects a value`);
  return v;
}

export function requireFlag(values: ParsedValues, name: string, what: string): string {
  const v = flagString(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`, `pass --${name} ${what}`);
  return v;
}

export function flagNumber(values: ParsedValues, name: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  const s = flagString(values, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} expects ${opts.integer ? 'an integer' : 'a number'}, got "${s}"`);
  }
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name} must be >= ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`--${name} must be <= ${opts.max}, got ${n}`);
  return n;
}

export function flagBool(values: ParsedValues, name: string): boolean {
  return values[name] === true;
}

export function flagList(values: ParsedValues, name: string): string[] | undefined {
  const s = flagString(values, name);
  if (s === undefined) return undefined;
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}
