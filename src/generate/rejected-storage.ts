import type { NewItem, UnstoredCount } from '../store/run-store.js';

/**
 * Which items that were not kept generation stores in full: the first `cap` of each reason (enough to review why
 * a reason fires, and to re-curate with other settings), then only their count. A teacher that repeats itself
 * otherwise fills the disk with what it repeats (8M duplicates, 6.1 GB). Kept items are always stored, and so are
 * items past the target ('over-target': new and valid, and at most a concurrency's worth).
 */
export class RejectedStorage {
  /**
   * @param cap items stored per reason; null stores all
   * @param stored items already stored per reason (a resumed run's)
   */
  constructor(
    private readonly cap: number | null,
    private readonly stored: Map<string, number>,
  ) {}

  /** Splits one answer's items into those stored and the counts of the others, by status and reason. */
  split(items: NewItem[]): { stored: NewItem[]; unstored: UnstoredCount[] } {
    if (this.cap === null) return { stored: items, unstored: [] };
    const stored: NewItem[] = [];
    const counts = new Map<string, UnstoredCount>();
    for (const it of items) {
      if (it.status === 'kept' || it.reason === null || it.reason === 'over-target') {
        stored.push(it);
        continue;
      }
      const n = this.stored.get(it.reason) ?? 0;
      if (n < this.cap) {
        this.stored.set(it.reason, n + 1);
        stored.push(it);
        continue;
      }
      const key = `${it.status}\u0000${it.reason}`;
      const c = counts.get(key);
      if (c) c.n++;
      else counts.set(key, { status: it.status, reason: it.reason, n: 1 });
    }
    return { stored, unstored: [...counts.values()] };
  }
}
