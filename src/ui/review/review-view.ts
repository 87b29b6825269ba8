import type { CurationStatus, ReviewDecision, StoredItem } from '../../review/run-access.js';

/** Which items the review list shows. null in a field means "any". */
export interface ReviewFilter {
  status: CurationStatus | null;
  review: ReviewDecision | 'pending' | null;
  reason: string | null;
  /** judge score range, inclusive; items without a score are hidden while either bound is set */
  minScore: number | null;
  maxScore: number | null;
}

export const emptyFilter: ReviewFilter = { status: null, review: null, reason: null, minScore: null, maxScore: null };

export const sortKeys = ['id', 'judge', 'similarity', 'length'] as const;
export type SortKey = (typeof sortKeys)[number];
export const sortLabels: Record<SortKey, string> = { id: 'arrival', judge: 'judge score', similarity: 'similarity', length: 'length' };

export interface ReviewSort {
  key: SortKey;
  /** Largest first. The default for every key but arrival, where the oldest comes first. */
  descending: boolean;
}

export interface ViewOptions {
  filter: ReviewFilter;
  sort: ReviewSort;
  search: string;
}

export function isFilterEmpty(f: ReviewFilter): boolean {
  return f.status === null && f.review === null && f.reason === null && f.minScore === null && f.maxScore === null;
}

/** ROUGE-L of the most similar earlier item, the number the dedup step compared against its threshold. */
export function similarityOf(item: StoredItem): number | null {
  return item.similar[0]?.score ?? item.similarity;
}

function lengthOf(item: StoredItem): number {
  return item.instruction.length + item.input.length + item.output.length;
}

function sortValue(item: StoredItem, key: SortKey): number | null {
  switch (key) {
    case 'id':
      return item.id;
    case 'judge':
      return item.judgeScore;
    case 'similarity':
      return similarityOf(item);
    case 'length':
      return lengthOf(item);
  }
}

export function matchesFilter(item: StoredItem, f: ReviewFilter): boolean {
  if (f.status !== null && item.status !== f.status) return false;
  if (f.review !== null && (item.review ?? 'pending') !== f.review) return false;
  if (f.reason !== null && item.reason !== f.reason) return false;
  if (f.minScore !== null || f.maxScore !== null) {
    if (item.judgeScore === null) return false;
    if (f.minScore !== null && item.judgeScore < f.minScore) return false;
    if (f.maxScore !== null && item.judgeScore > f.maxScore) return false;
  }
  return true;
}

/** Case-insensitive substring over instruction, input and output; `#123` matches item 123 only. */
export function matchesSearch(item: StoredItem, search: string): boolean {
  const q = search.trim();
  if (q === '') return true;
  const byId = /^#(\d+)$/.exec(q);
  if (byId) return item.id === Number(byId[1]);
  const needle = q.toLowerCase();
  return item.instruction.toLowerCase().includes(needle) || item.input.toLowerCase().includes(needle) || item.output.toLowerCase().includes(needle);
}

/** The items the list shows, in order. Items without a value for the sort key go last either way; ties keep arrival order. */
export function viewItems(items: readonly StoredItem[], opts: ViewOptions): StoredItem[] {
  const shown = items.filter((i) => matchesFilter(i, opts.filter) && matchesSearch(i, opts.search));
  const { key, descending } = opts.sort;
  const dir = descending ? -1 : 1;
  return shown.sort((a, b) => {
    const va = sortValue(a, key);
    const vb = sortValue(b, key);
    if (va === null || vb === null) {
      if (va !== vb) return va === null ? 1 : -1;
    } else if (va !== vb) return (va - vb) * dir;
    return a.id - b.id;
  });
}

export function nextSort(s: ReviewSort): ReviewSort {
  const i = sortKeys.indexOf(s.key);
  const key = sortKeys[(i + 1) % sortKeys.length]!;
  return { key, descending: key !== 'id' };
}

export interface ReviewCounts {
  total: number;
  byStatus: Record<string, number>;
  byReview: Record<ReviewDecision | 'pending', number>;
}

export function countItems(items: readonly StoredItem[]): ReviewCounts {
  const byStatus: Record<string, number> = {};
  const byReview: Record<ReviewDecision | 'pending', number> = { accepted: 0, rejected: 0, skipped: 0, pending: 0 };
  for (const i of items) {
    byStatus[i.status] = (byStatus[i.status] ?? 0) + 1;
    byReview[i.review ?? 'pending'] += 1;
  }
  return { total: items.length, byStatus, byReview };
}

/** Distinct reasons in the run, most frequent first: the choices of the reason filter. */
export function reasonsOf(items: readonly StoredItem[]): string[] {
  const n = new Map<string, number>();
  for (const i of items) if (i.reason !== null) n.set(i.reason, (n.get(i.reason) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([r]) => r);
}

/**
 * Where the cursor goes after a decision: to the next item when the decided one is still listed, else to the
 * item that took its place (a "pending" filter drops decided items out of the list).
 */
export function cursorAfterChange(before: readonly StoredItem[], after: readonly StoredItem[], changedId: number, advance: boolean): number {
  if (after.length === 0) return 0;
  const now = after.findIndex((i) => i.id === changedId);
  if (now !== -1) return Math.min(advance ? now + 1 : now, after.length - 1);
  const was = before.findIndex((i) => i.id === changedId);
  return Math.max(0, Math.min(was === -1 ? 0 : was, after.length - 1));
}
