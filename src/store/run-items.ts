import { z } from 'zod';
import { sampleSchema } from '../data/sample.js';
import type { RunConnection } from './run-connection.js';
import { itemRowSchema, toItem, type CurationStatus, type CurationUpdate, type ReviewDecision, type StoredItem } from './item-rows.js';

const keptTextRowSchema = sampleSchema.extend({ id: z.number() });
const countRowSchema = z.object({ n: z.number() });
const maxIdRowSchema = z.object({ m: z.number() });
const removalRowSchema = z.object({ reason: z.string(), similarity: z.number().nullable(), n: z.number() });
const reasonCountRowSchema = z.object({ reason: z.string(), n: z.number() });

/** A filter of listItems: by curation status and by review decision (null: not decided). */
export interface ItemFilter {
  status?: CurationStatus[];
  review?: (ReviewDecision | null)[];
}

/** The run's items (table items): reads, re-curation and judge scores. Review decisions and edits are in ReviewLog. */
export class RunItems {
  private nextId: number;

  constructor(private readonly c: RunConnection) {
    this.nextId = c.row(maxIdRowSchema, c.sql('SELECT COALESCE(MAX(id), 0) AS m FROM items').get()).m + 1;
  }

  /** Item ids are handed out here, before insert, so the duplicate index can name an item in the same tick. */
  allocateId(): number {
    return this.nextId++;
  }

  count(status: CurationStatus): number {
    return this.c.row(countRowSchema, this.c.sql('SELECT COUNT(*) AS n FROM items WHERE status = ?').get(status)).n;
  }

  /** Stored items not kept, by reason: where generation's storage cap (generation.storeRejected) starts from. */
  storedByReason(): Map<string, number> {
    const out = new Map<string, number>();
    for (const row of this.c.sql(`SELECT reason, COUNT(*) AS n FROM items WHERE status != 'kept' AND reason IS NOT NULL GROUP BY reason`).all()) {
      const r = this.c.row(reasonCountRowSchema, row);
      out.set(r.reason, r.n);
    }
    return out;
  }

  /** Texts of kept items in arrival order: what a resumed run's duplicate index and example pool start from. */
  keptTexts(): Array<z.output<typeof keptTextRowSchema>> {
    return this.c
      .sql(`SELECT id, instruction, input, output FROM items WHERE status = 'kept' ORDER BY id`)
      .all()
      .map((r) => this.c.row(keptTextRowSchema, r));
  }

  list(filter: ItemFilter = {}): StoredItem[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => '?').join(',')})`);
      params.push(...filter.status);
    }
    if (filter.review?.length) {
      const named = filter.review.filter((r): r is ReviewDecision => r !== null);
      const parts: string[] = [];
      if (named.length) {
        parts.push(`review IN (${named.map(() => '?').join(',')})`);
        params.push(...named);
      }
      if (filter.review.includes(null)) parts.push('review IS NULL');
      where.push(`(${parts.join(' OR ')})`);
    }
    const sql = `SELECT * FROM items ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return this.rows(this.c.sql(sql).all(...params));
  }

  get(id: number): StoredItem | undefined {
    const row = this.c.sql('SELECT * FROM items WHERE id = ?').get(id);
    return row === undefined ? undefined : toItem(this.c.row(itemRowSchema, row));
  }

  /** Items curation removed as duplicates of item `id` (any method), in arrival order: at most `limit` of them. */
  duplicatesOf(id: number, limit: number): StoredItem[] {
    return this.rows(this.c.sql(`SELECT * FROM items WHERE duplicate_of = ? AND status = 'duplicate' ORDER BY id LIMIT ?`).all(String(id), limit));
  }

  /** How many items curation removed as duplicates of item `id` (an index range, items_duplicate_of). */
  countDuplicatesOf(id: number): number {
    return this.c.row(countRowSchema, this.c.sql(`SELECT COUNT(*) AS n FROM items WHERE duplicate_of = ? AND status = 'duplicate'`).get(String(id))).n;
  }

  /**
   * Each duplicate removal (reason 'duplicate:<method>') with its similarity, for the dedup report of \`stats\`:
   * grouped in SQL from an index (items_duplicate_similarity), then handed out one by one, so 650K removals cost
   * a few thousand rows read, not 650K items parsed.
   */
  *duplicateRemovals(): Generator<{ reason: string; similarity: number | null }> {
    const rows = this.c.sql(`SELECT reason, similarity, COUNT(*) AS n FROM items WHERE status = 'duplicate' AND reason LIKE 'duplicate:%' GROUP BY reason, similarity`).all();
    for (const row of rows) {
      const r = this.c.row(removalRowSchema, row);
      const removal = { reason: r.reason, similarity: r.similarity };
      for (let i = 0; i < r.n; i++) yield removal;
    }
  }

  /** Samples that go on to training/export: accepted by review, or kept by curation and not rejected by review. */
  usable(): StoredItem[] {
    return this.rows(this.c.sql(`SELECT * FROM items WHERE review = 'accepted' OR (status = 'kept' AND (review IS NULL OR review = 'skipped')) ORDER BY id`).all());
  }

  rows(rows: unknown[]): StoredItem[] {
    return rows.map((r) => toItem(this.c.row(itemRowSchema, r)));
  }

  /** Re-curation: one transaction; never touches review or edit columns. */
  updateCuration(updates: CurationUpdate[]): void {
    const st = this.c.sql('UPDATE items SET status = ?, reason = ?, detail = ?, duplicate_of = ?, similarity = ?, similar_json = ? WHERE id = ?');
    this.c.transaction(() => {
      for (const u of updates) st.run(u.status, u.reason, u.detail ?? null, u.duplicateOf, u.similarity, u.similar.length ? JSON.stringify(u.similar) : null, u.id);
    })();
  }

  setJudge(id: number, score: number | null, reason: string): void {
    this.c.sql('UPDATE items SET judge_score = ?, judge_reason = ? WHERE id = ?').run(score, reason, id);
  }
}
