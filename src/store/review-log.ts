import { z } from 'zod';
import { sampleSchema, type Sample } from '../data/sample.js';
import { StoreError } from '../errors.js';
import { now, type RunConnection } from './run-connection.js';
import { reviewDecisions, type ReviewDecision, type StoredItem } from './item-rows.js';
import type { RunItems } from './run-items.js';

const logStateSchema = sampleSchema.extend({
  review: z.enum(reviewDecisions).nullable(),
  reviewedAt: z.string().nullable(),
  original: sampleSchema.nullable(),
});
type LogState = z.infer<typeof logStateSchema>;
const reviewLogRowSchema = z.object({ id: z.number(), item_id: z.number(), action: z.enum(['review', 'edit']), before_json: z.string() });

/** Review decisions and edits of items, each logged (table review_log) with the state before it, so undo is a stack. */
export class ReviewLog {
  constructor(
    private readonly c: RunConnection,
    private readonly items: RunItems,
  ) {}

  /** Records a reviewer's decision (null clears it); logged so it can be undone. */
  setReview(id: number, decision: ReviewDecision | null): StoredItem {
    return this.changeLogged(id, 'review', (s) => ({ ...s, review: decision, reviewedAt: decision === null ? null : now() }));
  }

  /** Replaces the text; the text before the first edit is kept beside it. Logged so it can be undone. */
  editItem(id: number, text: Sample): StoredItem {
    return this.changeLogged(id, 'edit', (s) => ({
      ...s,
      ...text,
      original: s.original ?? { instruction: s.instruction, input: s.input, output: s.output },
    }));
  }

  /** Undoes the latest decision or edit not yet undone; returns the item it changed, or null if nothing is left. */
  undo(): StoredItem | null {
    return this.undoLast()?.item ?? null;
  }

  /** undo, saying also what was undone (a decision, 'review', or an edit of the text) and the item as it was before. */
  undoLast(): { item: StoredItem; action: 'review' | 'edit'; was: StoredItem } | null {
    const found = this.c.sql('SELECT id, item_id, action, before_json FROM review_log WHERE undone = 0 ORDER BY id DESC LIMIT 1').get();
    if (found === undefined) return null;
    const row = this.c.row(reviewLogRowSchema, found);
    const before = this.c.row(logStateSchema, JSON.parse(row.before_json));
    const was = this.items.get(row.item_id);
    this.c.transaction(() => {
      this.writeState(row.item_id, before);
      this.c.sql('UPDATE review_log SET undone = 1 WHERE id = ?').run(row.id);
    })();
    const item = this.items.get(row.item_id);
    return item && was ? { item, action: row.action, was } : null;
  }

  private changeLogged(id: number, action: 'review' | 'edit', change: (s: LogState) => LogState): StoredItem {
    const item = this.items.get(id);
    if (!item) throw new StoreError(`no item ${id} in ${this.c.path}`);
    const before: LogState = {
      instruction: item.instruction,
      input: item.input,
      output: item.output,
      review: item.review,
      reviewedAt: item.reviewedAt,
      original: item.original,
    };
    const after = change(before);
    this.c.transaction(() => {
      this.writeState(id, after);
      this.c.sql('INSERT INTO review_log(item_id, action, before_json, after_json, at) VALUES (?, ?, ?, ?, ?)').run(id, action, JSON.stringify(before), JSON.stringify(after), now());
    })();
    return this.items.get(id)!;
  }

  private writeState(id: number, s: LogState): void {
    this.c
      .sql('UPDATE items SET instruction = ?, input = ?, output = ?, review = ?, reviewed_at = ?, orig_instruction = ?, orig_input = ?, orig_output = ? WHERE id = ?')
      .run(s.instruction, s.input, s.output, s.review, s.reviewedAt, s.original?.instruction ?? null, s.original?.input ?? null, s.original?.output ?? null, id);
  }
}
