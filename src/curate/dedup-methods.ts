import { UsageError } from '../errors.js';

export const dedupMethods = ['rouge', 'minhash', 'semantic'] as const;
export type DedupMethod = (typeof dedupMethods)[number];

/**
 * `--dedup rouge,minhash`: the listed near-duplicate methods on, the others off (`none` turns all off; exact
 * duplicates stay a setting of their own). An unknown name is a usage error naming it.
 */
export function dedupMethodFlags(list: readonly string[]): { rouge: boolean; minhash: boolean; semantic: boolean } {
  const on = new Set<DedupMethod>();
  for (const name of list) {
    if (name === 'none') continue;
    if (!(dedupMethods as readonly string[]).includes(name)) {
      throw new UsageError(`--dedup: unknown method "${name}"`, `use a comma-separated list of ${dedupMethods.join(', ')}, or none`);
    }
    on.add(name as DedupMethod);
  }
  return { rouge: on.has('rouge'), minhash: on.has('minhash'), semantic: on.has('semantic') };
}
