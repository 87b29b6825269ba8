import { viewSortKeys, type ItemViewQuery } from '../../review/run-access.js';

// The list itself is a store query (ItemView): filter, search and sort run there, a page at a time.
export type { ReviewCounts } from '../../review/run-access.js';

/** Which items the review list shows. null in a field means "any". */
export type ReviewFilter = Omit<ItemViewQuery, 'search' | 'sort'>;

export const emptyFilter: ReviewFilter = { status: null, review: null, reason: null, minScore: null, maxScore: null };

export const sortKeys = viewSortKeys;
export type SortKey = (typeof sortKeys)[number];
export const sortLabels: Record<SortKey, string> = { id: 'arrival', judge: 'judge score', similarity: 'similarity', length: 'length' };

/** Largest first is the default for every key but arrival, where the oldest comes first. */
export type ReviewSort = ItemViewQuery['sort'];

export function isFilterEmpty(f: ReviewFilter): boolean {
  return f.status === null && f.review === null && f.reason === null && f.minScore === null && f.maxScore === null;
}

export function nextSort(s: ReviewSort): ReviewSort {
  const i = sortKeys.indexOf(s.key);
  const key = sortKeys[(i + 1) % sortKeys.length]!;
  return { key, descending: key !== 'id' };
}
