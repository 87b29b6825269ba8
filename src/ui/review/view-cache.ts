import { viewIncludes, type ItemViewQuery, type ReviewCounts, type ReviewStore, type StoredItem } from '../../review/run-access.js';

/** The rows of the view the session holds: `rows` from position `first`, out of `total`. */
export interface ViewWindow {
  first: number;
  rows: StoredItem[];
  total: number;
}

/** Rows fetched around the cursor at a time: a few screens, so moving within them costs no query. */
const WINDOW = 200;

/**
 * What the review list has read from the store: the view's size, a window of its rows and the run's counts.
 * A decision does not send the list back to the store: the window is patched (the item replaced, or taken out
 * when the view no longer includes it) and the size adjusted, both decided by `viewIncludes`, the view's filter in
 * JavaScript. Only what a change can move unpredictably (an edit can change an item's length, an item can come
 * back into the view) is read again. At a million items a query is tens of milliseconds to seconds (a text search
 * scans); a patch is nothing.
 */
export class ViewCache {
  private sizes: { key: string; total: number; decided: number } | null = null;
  private held: { key: string; first: number; rows: StoredItem[] } | null = null;
  private runCounts: ReviewCounts | null = null;

  constructor(private readonly store: ReviewStore) {}

  sizesOf(q: ItemViewQuery): { total: number; decided: number } {
    const key = keyOf(q);
    if (this.sizes?.key !== key) this.sizes = { key, total: this.store.countView(q), decided: this.store.countDecidedInView(q) };
    return this.sizes;
  }

  /** The rows from `first` (at least `count` of them, when the view has them), fetched from the store when not held. */
  window(q: ItemViewQuery, first: number, count: number): ViewWindow {
    const { total } = this.sizesOf(q);
    const key = keyOf(q);
    const end = Math.min(total, first + count);
    const held = this.held;
    if (!held || held.key !== key || first < held.first || end > held.first + held.rows.length) {
      const start = Math.max(0, Math.min(first - Math.floor((WINDOW - count) / 2), total - WINDOW));
      this.held = { key, first: start, rows: this.store.viewPage(q, start, Math.max(WINDOW, count), total) };
    }
    const w = this.held!;
    return { first, rows: w.rows.slice(first - w.first, end - w.first), total };
  }

  /** Counts of the whole run (the triggers keep them in the store, so reading them again is cheap). */
  counts(): ReviewCounts {
    this.runCounts ??= this.store.reviewCounts();
    return this.runCounts;
  }

  /** Where an item stands in the view, or -1 when the view leaves it out: from the held rows when it is there. */
  position(q: ItemViewQuery, id: number): number {
    const held = this.held;
    if (held?.key === keyOf(q)) {
      const i = held.rows.findIndex((r) => r.id === id);
      if (i !== -1) return held.first + i;
    }
    return this.store.viewPosition(q, id);
  }

  /**
   * Item `before` is now `after` (a decision, an undo, an edit). `moved` says the change may have moved it in the
   * order (an edit changes its length): the window is then read again.
   */
  itemChanged(q: ItemViewQuery, before: StoredItem, after: StoredItem, moved: boolean): void {
    this.runCounts = null;
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
    const held = this.held;
    if (!held || held.key !== key || (!was && !is)) return;
    const i = held.rows.findIndex((r) => r.id === after.id);
    // A decision changes no sort key: an item still in the view keeps its place, and when it leaves the view the
    // rows after it close up. Anything else (an edit, an item coming back, one leaving from outside the window)
    // moves rows by an amount only a query can tell.
    if (!moved && was && is) {
      if (i !== -1) held.rows[i] = after;
    } else if (!moved && was && i !== -1) held.rows.splice(i, 1);
    else this.held = null;
  }

  /** Something changed that the list cannot follow: everything is read again. */
  reset(): void {
    this.sizes = null;
    this.held = null;
    this.runCounts = null;
  }
}

const keyOf = (q: ItemViewQuery) => JSON.stringify(q);
