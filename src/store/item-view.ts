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

/**
 * The value each sort key orders by: the similarity is ROUGE-L of the most similar earlier item, as dedup compared
 * it. The judge score's expression is written exactly as in its indexes (schema-sql.ts), so SQLite walks the index
 * for a page.
 */
const sortExpr: Record<Exclude<ViewSortKey, 'id'>, { sql: string; nullable: boolean }> = {
  judge: { sql: 'judge_score', nullable: true },
  similarity: { sql: `COALESCE(json_extract(similar_json, '$[0].score'), similarity)`, nullable: true },
  length: { sql: 'length(instruction) + length(input) + length(output)', nullable: false },
};

export interface ReviewCounts {
  total: number;
  byStatus: Record<string, number>;
  byReview: Record<ReviewDecision | 'pending', number>;
  /** Items by status and review together, keyed `status/review` ('kept/pending'…): the size of any view filtered by them. */
  byStatusReview: Record<string, number>;
}

const countRowSchema = z.object({ n: z.number() });
const idRowSchema = z.object({ id: z.number() });
const groupRowSchema = z.object({ status: z.string(), review: z.string().nullable(), n: z.number() });
const reasonRowSchema = z.object({ reason: z.string() });
const keyRowSchema = z.object({ v: z.number().nullable() });

/**
 * Sort keys with an index in the list's order (arrival is the table's own order). Length and similarity have none:
 * an index on them made every stored item dearer to write, so a list sorted by them reads its whole order once
 * (`order`) and pages from that.
 */
export const indexedSortKeys: readonly ViewSortKey[] = ['id', 'judge'];

/**
 * The review list as queries, a page at a time: the screen holds the rows it shows, never the run (a run of 8M
 * items once took 2.7 GB and a minute before the first paint). Filter, search and sort are SQL; a position is a
 * count of the rows before an item in the same order, so the cursor can follow an item across changes.
 *
 * What each costs at 1M items: a count by status and review is a range of their index; a page in arrival or judge
 * order is a walk of `offset` entries (from the far end when that is nearer), then the page's rows by id; a
 * position counts index entries. A reason, a judge score range or a text search needs the rows: its count and
 * pages scan the items, as does the whole order of a length or similarity sort.
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

  /**
   * `limit` items of the view from position `offset`. Items without a sort value come last either way; ties keep
   * arrival order. Given the view's size, a page past the middle is read backwards from the end, so the last page
   * costs what the first does.
   */
  page(q: ItemViewQuery, offset: number, limit: number, total?: number): StoredItem[] {
    let ids: number[];
    if (total !== undefined && offset > total / 2) {
      const end = Math.min(total, offset + limit);
      if (end <= offset) return [];
      const { sql, params } = viewPageSql(q, true);
      ids = this.ids(sql, [...params, end - offset, total - end]).reverse();
    } else {
      const { sql, params } = viewPageSql(q, false);
      ids = this.ids(sql, [...params, limit, offset]);
    }
    return this.byIds(ids);
  }

  /** Every id of the view, in its order: one scan and sort, for a sort key without an index (see indexedSortKeys). */
  order(q: ItemViewQuery): Int32Array {
    const w = where(q);
    const ids = this.c.sql(`SELECT id FROM items ${w.sql} ORDER BY ${orderBy(q, false)}`).pluck().all(...w.params) as number[];
    return Int32Array.from(ids);
  }

  /** Where item `id` stands in the view (0-based), or -1 when the view leaves it out. */
  position(q: ItemViewQuery, id: number): number {
    const inView = where(q, ['id = ?']);
    if (this.c.sql(`SELECT 1 FROM items ${inView.sql}`).get(...inView.params, id) === undefined) return -1;
    // Each count is one contiguous range of the sort key's index.
    const before = (cond: string, ...params: unknown[]) => {
      const w = where(q, [cond]);
      return this.c.row(countRowSchema, this.c.sql(`SELECT COUNT(*) AS n FROM items ${w.sql}`).get(...w.params, ...params)).n;
    };
    const desc = q.sort.descending;
    if (q.sort.key === 'id') {
      // SQLite would count an id range on the table itself, reading every text on the way; the status/review index
      // holds every id in a few bytes each. (A reason, score or text filter needs the rows anyway.)
      if (q.reason !== null || !countable(q)) return before(desc ? 'id > ?' : 'id < ?', id);
      const w = where(q, [desc ? 'id > ?' : 'id < ?']);
      return this.c.row(countRowSchema, this.c.sql(`SELECT COUNT(*) AS n FROM items INDEXED BY items_status_review ${w.sql}`).get(...w.params, id)).n;
    }
    const { sql: e, nullable } = sortExpr[q.sort.key];
    const v = this.c.row(keyRowSchema, this.c.sql(`SELECT ${e} AS v FROM items WHERE id = ?`).get(id)).v;
    const nn = nullable ? `(${e}) IS NULL = 0 AND ` : '';
    if (v === null) return before(`(${e}) IS NULL = 0`) + before(`(${e}) IS NULL = 1 AND id < ?`, id);
    return before(`${nn}${e} ${desc ? '>' : '<'} ?`, v) + before(`${nn}${e} = ? AND id < ?`, v, id);
  }

  /** Items by status and by review decision: one grouped count (an index scan, not the rows). */
  counts(): ReviewCounts {
    const byStatus: Record<string, number> = {};
    const byReview: ReviewCounts['byReview'] = { accepted: 0, rejected: 0, skipped: 0, pending: 0 };
    const byStatusReview: Record<string, number> = {};
    let total = 0;
    for (const row of this.c.sql('SELECT status, review, COUNT(*) AS n FROM items GROUP BY status, review').all()) {
      const r = this.c.row(groupRowSchema, row);
      total += r.n;
      byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
      const k = (r.review ?? 'pending') as keyof ReviewCounts['byReview'];
      if (k in byReview) byReview[k] += r.n;
      byStatusReview[`${r.status}/${k}`] = r.n;
    }
    return { total, byStatus, byReview, byStatusReview };
  }

  /** Distinct reasons in the run, most frequent first: the choices of the reason filter. */
  reasons(): string[] {
    return this.c
      .sql('SELECT reason, COUNT(*) AS n FROM items WHERE reason IS NOT NULL GROUP BY reason ORDER BY n DESC, reason')
      .all()
      .map((r) => this.c.row(reasonRowSchema, r).reason);
  }

  private ids(sql: string, params: unknown[]): number[] {
    return this.c
      .sql(sql)
      .all(...params)
      .map((r) => this.c.row(idRowSchema, r).id);
  }

  /** Rows of `ids`, in that order: the page's order comes from the index walk, the rows from the table. */
  private byIds(ids: number[]): StoredItem[] {
    if (ids.length === 0) return [];
    const rows = this.items.rows(this.c.sql('SELECT * FROM items WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(ids)));
    const at = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => at.get(id) ?? []);
  }
}

/** A view filtered by status and review at most (no judge score range, no text search). */
function countable(q: ItemViewQuery): boolean {
  return q.minScore === null && q.maxScore === null && q.search.trim() === '';
}

/** The ids of a page of the view (LIMIT and OFFSET follow `params`); `reversed` reads the view from its end. */
export function viewPageSql(q: ItemViewQuery, reversed: boolean): { sql: string; params: unknown[] } {
  const w = where(q);
  return { sql: `SELECT id FROM items ${w.sql} ORDER BY ${orderBy(q, reversed)} LIMIT ? OFFSET ?`, params: w.params };
}

/** The view's order, as its index holds it; `reversed` walks it from the end. */
function orderBy(q: ItemViewQuery, reversed: boolean): string {
  const dir = (descending: boolean) => (descending !== reversed ? 'DESC' : 'ASC');
  if (q.sort.key === 'id') return `id ${dir(q.sort.descending)}`;
  const { sql: e, nullable } = sortExpr[q.sort.key];
  return [...(nullable ? [`(${e}) IS NULL ${dir(false)}`] : []), `${e} ${dir(q.sort.descending)}`, `id ${dir(false)}`].join(', ');
}

/**
 * Whether an item belongs to the view: `where` in JavaScript, so a list can follow a decision without a query.
 * SQLite's lower() folds ASCII only, and so does this.
 */
export function viewIncludes(q: ItemViewQuery, item: StoredItem): boolean {
  if (q.status !== null && item.status !== q.status) return false;
  if (q.review === 'pending' ? item.review !== null : q.review !== null && item.review !== q.review) return false;
  if (q.reason !== null && item.reason !== q.reason) return false;
  if (q.minScore !== null || q.maxScore !== null) {
    if (item.judgeScore === null) return false;
    if (q.minScore !== null && item.judgeScore < q.minScore) return false;
    if (q.maxScore !== null && item.judgeScore > q.maxScore) return false;
  }
  const s = q.search.trim();
  const byId = /^#(\d+)$/.exec(s);
  if (byId) return item.id === Number(byId[1]);
  if (s === '') return true;
  const needle = asciiLower(s);
  return [item.instruction, item.input, item.output].some((t) => asciiLower(t).includes(needle));
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
