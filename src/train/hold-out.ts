import { UsageError } from '../errors.js';

/** alpaca-lora's default hold-out, capped to this share of the data when the size is not given. */
export const DEFAULT_VAL_SET_SIZE = 2000;
const DEFAULT_VAL_SHARE = 0.1;

/**
 * Examples held out for evaluation: the configured number, or when none was given min(2000, 10% of the data), so
 * the default works on small data too. An explicit size that leaves nothing to train on is a usage error.
 */
export function resolveValSetSize(configured: number | null, samples: number, label: string): { size: number; auto: boolean } {
  if (configured === null) return { size: Math.min(DEFAULT_VAL_SET_SIZE, Math.floor(samples * DEFAULT_VAL_SHARE)), auto: true };
  if (configured >= samples) {
    throw new UsageError(`--val-set-size ${configured} leaves no training samples (${label} has ${samples})`, `use --val-set-size 0 (no evaluation), a value below ${samples}, or leave it out for 10% of the data`);
  }
  return { size: configured, auto: false };
}
