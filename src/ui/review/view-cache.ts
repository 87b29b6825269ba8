import { indexedSortKeys, viewIncludes, type ItemViewQuery, type ReviewCounts, type ReviewStore, type StoredItem } from '../../review/run-access.js';

/** The rows of the view the session holds: `rows` from position `first`, out of `total`. */
export interface ViewWindow {
  first: number;
  rows: StoredItem[];
  total: number;
}

/** Rows fetched around the cursor at a time: a few screens, so moving within them costs no query. */
const WINDOW = 200;

/**
 * What the review list has read from the store: the view's size, a window of its rows, the run's counts, and for a
 * sort without an index (length, similarity) the view's whole order as ids (4 bytes an item).
 *
 * A decision does not send the list back to the store: the window is patched (the item replaced, or taken out when
 * the view no longer includes it), and the sizes and counts adjusted, all decided by `viewIncludes`, the view's
 * filter in JavaScript. Only what a change can move unpredictably (an edit under the length sort, an item coming
 * back into the view) is read again. At a million items a query is tens of milliseconds to seconds (a text search
 * or a length sort scans the run); a patch is nothing.
 */
export class ViewCache {
  private sizes: { key: string; total: number; decided: number } | null = null;
  private held: { key: string; first: number; rows: StoredItem[] } | null = null;
  private order: { key: string; ids: Int32Array } | null = null;
  private runCounts: ReviewCounts | null = null;

  constructor(private readonly store: ReviewStore) {}

  sizesOf(q: ItemViewQuery): { total: number; decided: number } {
    const key = keyOf(q);
    if (this.sizes?.key !== key) this.sizes = { key, ...(this.fromCounts(q) ?? { total: this.store.countView(q), decided: this.store.countDecidedInView(q) }) };
    return this.sizes;
  }

  /** The size of a view filtered by status and review at most, from the run's counts (no query). */
  private fromCounts(q: ItemViewQuery): { total: number; decided: number } | null {
    if (q.reason !== null || q.minScore !== null || q.maxScore !== null || q.search.trim() !== '') return null;
    let total = 0;
    let decided = 0;
    for (const [cell, n] of Object.entries(this.counts().byStatusReview)) {
      const [status, review] = cell.split('/') as [string, string];
      if ((q.status !== null && status !== q.status) || (q.review !== null && review !== q.review)) continue;
      total += n;
      if (review !== 'pending') decided += n;
    }
    return { total, decided };
  }

  /** The rows from `first` (at least `count` of them, when the view has them), fetched from the store when not held. */
  window(q: ItemViewQuery, first: number, count: number): ViewWindow {
    const { total } = this.sizesOf(q);
    const key = keyOf(q);
    const end = Math.min(total, first + count);
    const held = this.held;
    if (!held || held.key !== key || first < held.first || end > held.first + held.rows.length) {
      const start = Math.max(0, Math.min(first - Math.floor((WINDOW - count) / 2), total - WINDOW));
      const size = Math.max(WINDOW, count);
      const order = this.orderOf(q);
      const rows = order ? this.byIds(order.subarray(start, start + size)) : this.store.viewPage(q, start, size, total);
      this.held = { key, first: start, rows };
    }
    const w = this.held!;
    return { first, rows: w.rows.slice(first - w.first, end - w.first), total };
  }

  /** Counts of the whole run: read once, then followed change by change. */
  counts(): ReviewCounts {
    this.runCounts ??= this.store.reviewCounts();
    return this.runCounts;
  }

  /** Where an item stands in the view, or -1 when the view leaves it out: from what is held when it can be. */
  position(q: ItemViewQuery, id: number): number {
    const key = keyOf(q);
    const held = this.held;
    if (held?.key === key) {
      const i = held.rows.findIndex((r) => r.id === id);
      if (i !== -1) return held.first + i;
    }
    const order = this.orderOf(q);
    if (order) return order.indexOf(id);
    return this.store.viewPosition(q, id);
  }

  /**
   * Item `before` is now `after` (a decision, an undo, an edit). `moved` says the change may have moved it in the
   * order (an edit changes its length): what is held of the order is then read again.
   */
  itemChanged(q: ItemViewQuery, before: StoredItem, after: StoredItem, moved: boolean): void {
    const c = this.runCounts;
    if (c) {
      c.byStatus[before.status] = (c.byStatus[before.status] ?? 0) - 1;
      c.byStatus[after.status] = (c.byStatus[after.status] ?? 0) + 1;
      c.byReview[before.review ?? 'pending']--;
      c.byReview[after.review ?? 'pending']++;
      const was = `${before.status}/${before.review ?? 'pending'}`;
      const is = `${after.status}/${after.review ?? 'pending'}`;
      c.byStatusReview[was] = (c.byStatusReview[was] ?? 0) - 1;
      c.byStatusReview[is] = (c.byStatusReview[is] ?? 0) + 1;
      // As the store reports them: a combination no item has is absent, not 0.
      if (c.byStatusReview[was] === 0) delete c.byStatusReview[was];
    }
    const key = keyOf(q);
    const was = viewIncludes(q, before);
    const is = viewIncludes(q, after);
    if (this.sizes?.key === key) {
      this.sizes = {
        key,
        total: this.sizes.total + Number(is) - Number(was),
        decided: this.sizes.decided + Number(is && after.review !== null) - Number(was && before.review !== null),
      };
    } else this.sizes = null;
    if (!was && !is) return;
    // A decision changes no sort key: an item still in the view keeps its place, and when it leaves the view the
    // items after it close up. Anything else (an edit that may move it, an item coming back) needs the order read.
    const order = this.order?.key === key ? this.order : null;
    if (order) {
      if (moved || !was) this.order = null;
      else if (!is) {
        const i = order.ids.indexOf(after.id);
        if (i !== -1) {
          const ids = new Int32Array(order.ids.length - 1);
          ids.set(order.ids.subarray(0, i));
          ids.set(order.ids.subarray(i + 1), i);
          this.order = { key, ids };
        }
      }
    }
    const held = this.held;
    if (!held || held.key !== key) return;
    const i = held.rows.findIndex((r) => r.id === after.id);
    if (!moved && was && is) {
      if (i !== -1) held.rows[i] = after;
    } else if (!moved && was && i !== -1) held.rows.splice(i, 1);
    else this.held = null;
  }

  /** Something changed that the list cannot follow: everything is read again. */
  reset(): void {
    this.sizes = null;
    this.held = null;
    this.order = null;
    this.runCounts = null;
  }

  /** The view's whole order, for a sort without an index; null when the store pages it by index. */
  private orderOf(q: ItemViewQuery): Int32Array | null {
    if (indexedSortKeys.includes(q.sort.key)) return null;
    const key = keyOf(q);
    if (this.order?.key !== key) this.order = { key, ids: this.store.viewOrder(q) };
    return this.order.ids;
  }

  private byIds(ids: Int32Array): StoredItem[] {
    return Array.from(ids, (id) => this.store.getItem(id)).filter((i): i is StoredItem => i !== undefined);
  }
}

const keyOf = (q: ItemViewQuery) => JSON.stringify(q);
