import { loadSeedTasks } from '../generate/seed-tasks.js';
import type { RunStore } from '../store/run-store.js';

const cache = new WeakMap<object, (seedId: string) => string | undefined>();

/**
 * Instruction of a seed task by id, from the seed file the run was generated with (recorded in the run). Loaded on
 * first use; a seed file that has moved or cannot be read just leaves seeds unnamed.
 */
export function seedLookup(store: Pick<RunStore, 'getMeta'>): (seedId: string) => string | undefined {
  const known = cache.get(store);
  if (known) return known;
  let byId: Map<string, string> | undefined;
  const lookup = (seedId: string) => {
    if (!byId) {
      byId = new Map();
      const path = store.getMeta('seeds_path');
      try {
        if (path) for (const s of loadSeedTasks(path)) byId.set(s.id, s.instruction);
      } catch {
        // The seed file is only needed to show a seed's text; the review works without it.
      }
    }
    return byId.get(seedId);
  };
  cache.set(store, lookup);
  return lookup;
}
