import { z } from 'zod';
import type { RunConnection } from './run-connection.js';
import type { CurationStatus, ReviewDecision, StoredItem } from './item-rows.js';
import type { RunItems } from './run-items.js';

export const viewSortKeys = ['id', 'judge', 'similarity', 'length'] as const;
export type ViewSortKey = (typeof viewSortKeys)[number];

/** Which items a review list shows and in what order; null in a field means "any". */
export interface ItemViewQuery {
  status: CurationStatus | null;
  review: ReviewDecision | 'pending' | null;
  reason: string | null;
  /** Judge score range, inclusive; items without a score are left out while either bound is set. */
  minScore: number | null;
  maxScore: number | null;
  /** Case-insensitive substring of instruction, input or output; `#123` is item 123 only. */
  search: string;
  sort: { key: ViewSortKey; descending: boolean };
}

/** The value each sort key orders by: the similarity is ROUGE-L of the most similar earlier item, as dedup compared it. */
const sortExpr: Record<ViewSortKey, string> = {
  id: 'id',
  judge: 'judge_score',
  similarity: `COALESCE(json_extract(similar_json, '$[0].score'), similarity)`,
  length: 'length(instruction) + length(input) + length(output)',
};

export interface ReviewCounts {
  total: number;
  byStatus: Record<string, number>;
  byReview: Record<ReviewDecision | 'pending', number>;
}

const countRowSchema = z.object({ n: z.number() });
const groupRowSchema = z.object({ status: z.string(), review: z.string().nullable(), n: z.number() });
const reasonRowSchema = z.object({ reason: z.string() });
const keyRowSchema = z.object({ v: z.number().nullable() });

/**
 * The review list as queries, a page at a time: the screen holds the rows it shows, never the run (a run of 8M
 * items once took 2.7 GB and a minute before the first paint). Filter, search and sort are SQL; a position is a
 * count of the rows before an item in the same order, so the cursor can follow an item across changes.
 */
export class ItemView {
  constructor(
    private readonly c: RunConnection,
    private readonly items: RunItems,
  ) {}

  count(q: ItemViewQuery): number {
    const w = where(q);
    return this.c.row(countRowSchema, this.c.sql(`SELECT COUNT(*) AS n FROM items ${w.sql}`).get(...w.params)).n;
  }

  /** Items of the view that a reviewer has decided (accepted, rejected or skipped). */
  countDecided(q: ItemViewQuery): number {
    const w = where(q, ['review IS NOT NULL']);
    return this.c.row(countRowSchema, this.c.sql(`SELECT COUNT(*) AS n FROM items ${w.sql}`).get(...w.params)).n;
  }

  /** `limit` items of the view from position `offset`. Items without a sort value come last either way; ties keep arrival order. */
  page(q: ItemViewQuery, offset: number, limit: number): StoredItem[] {
    const w = where(q);
    const e = sortExpr[q.sort.key];
    const dir = q.sort.descending ? 'DESC' : 'ASC';
    const order = q.sort.key === 'id' ? `id ${dir}` : `(${e}) IS NULL, ${e} ${dir}, id`;
    return this.items.rows(this.c.sql(`SELECT * FROM items ${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`).all(...w.params, limit, offset));
  }

  /** Where item `id` stands in the view (0-based), or -1 when the view leaves it out. */
  position(q: ItemViewQuery, id: number): number {
    const inView = where(q, ['id = ?']);
    if (this.c.sql(`SELECT 1 FROM items ${inView.sql}`).get(...inView.params, id) === undefined) return -1;
    const e = sortExpr[q.sort.key];
    const before = (cond: string, params: unknown[]) => {
      const w = where(q, [cond]);
      return this.c.row(countRowSchema, this.c.sql(`SELECT COUNT(*) AS n FROM items ${w.sql}`).get(...w.params, ...params)).n;
    };
    if (q.sort.key === 'id') return before(q.sort.descending ? 'id > ?' : 'id < ?', [id]);
    const v = this.c.row(keyRowSchema, this.c.sql(`SELECT ${e} AS v FROM items WHERE id = ?`).get(id)).v;
    if (v === null) return before(`(${e}) IS NOT NULL OR id < ?`, [id]);
    const cmp = q.sort.descending ? '>' : '<';
    return before(`(${e}) IS NOT NULL AND ((${e}) ${cmp} ? OR ((${e}) = ? AND id < ?))`, [v, v, id]);
  }

  /** Items by status and by review decision: one grouped count (an index scan, not the rows). */
  counts(): ReviewCounts {
    const byStatus: Record<string, number> = {};
    const byReview: ReviewCounts['byReview'] = { accepted: 0, rejected: 0, skipped: 0, pending: 0 };
    let total = 0;
    for (const row of this.c.sql('SELECT status, review, COUNT(*) AS n FROM items GROUP BY status, review').all()) {
      const r = this.c.row(groupRowSchema, row);
      total += r.n;
      byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
      const k = (r.review ?? 'pending') as keyof ReviewCounts['byReview'];
      if (k in byReview) byReview[k] += r.n;
    }
    return { total, byStatus, byReview };
  }

  /** Distinct reasons in the run, most frequent first: the choices of the reason filter. */
  reasons(): string[] {
    return this.c
      .sql('SELECT reason, COUNT(*) AS n FROM items WHERE reason IS NOT NULL GROUP BY reason ORDER BY n DESC, reason')
      .all()
      .map((r) => this.c.row(reasonRowSchema, r).reason);
  }
}

function where(q: ItemViewQuery, extra: string[] = []): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (q.status !== null) {
    parts.push('status = ?');
    params.push(q.status);
  }
  if (q.review === 'pending') parts.push('review IS NULL');
  else if (q.review !== null) {
    parts.push('review = ?');
    params.push(q.review);
  }
  if (q.reason !== null) {
    parts.push('reason = ?');
    params.push(q.reason);
  }
  if (q.minScore !== null || q.maxScore !== null) parts.push('judge_score IS NOT NULL');
  if (q.minScore !== null) {
    parts.push('judge_score >= ?');
    params.push(q.minScore);
  }
  if (q.maxScore !== null) {
    parts.push('judge_score <= ?');
    params.push(q.maxScore);
  }
  const s = q.search.trim();
  const byId = /^#(\d+)$/.exec(s);
  if (byId) {
    parts.push('id = ?');
    params.push(Number(byId[1]));
  } else if (s !== '') {
    // SQLite's lower() folds ASCII only; the needle is folded the same way so both sides agree.
    const needle = asciiLower(s);
    parts.push('(instr(lower(instruction), ?) > 0 OR instr(lower(input), ?) > 0 OR instr(lower(output), ?) > 0)');
    params.push(needle, needle, needle);
  }
  parts.push(...extra.map((e) => `(${e})`));
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (ch) => ch.toLowerCase());
