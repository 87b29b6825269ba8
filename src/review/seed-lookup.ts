import { legacyBundledSeedId, loadSeedTasks } from '../data/seed-tasks.js';
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
        const tasks = path ? loadSeedTasks(path) : [];
        for (const s of tasks) byId.set(s.id, s.instruction);
        // Runs made before the bundled seeds got their own ids name them by the old ones.
        for (const s of tasks) {
          const legacy = legacyBundledSeedId(s.id);
          if (legacy !== undefined && !byId.has(legacy)) byId.set(legacy, s.instruction);
        }
      } catch {
        // The seed file is only needed to show a seed's text; the review works without it.
      }
    }
    return byId.get(seedId);
  };
  cache.set(store, lookup);
  return lookup;
}
