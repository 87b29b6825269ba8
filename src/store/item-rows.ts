import { z } from 'zod';
import type { Sample } from '../data/sample.js';

export const curationStatuses = ['kept', 'rejected', 'duplicate', 'dropped'] as const;
export type CurationStatus = (typeof curationStatuses)[number];
export const reviewDecisions = ['accepted', 'rejected', 'skipped'] as const;
export type ReviewDecision = (typeof reviewDecisions)[number];

export const similarSchema = z.array(z.object({ id: z.string(), score: z.number() }));
export type SimilarRef = z.infer<typeof similarSchema>[number];

/**
 * An items row as SQLite returns it (SELECT *), parsed rather than cast so a database written by another version,
 * or edited by hand, fails with the column at fault instead of showing `undefined` in the review screen. Columns
 * not named here (idx) are dropped. One parse per row: at 52K rows this is within the export budget (bench/export.ts).
 */
export const itemRowSchema = z.object({
  id: z.number(),
  request_id: z.number().nullable(),
  instruction: z.string(),
  input: z.string(),
  output: z.string(),
  status: z.enum(curationStatuses),
  reason: z.string().nullable(),
  /** Why, in words: the rule's explanation, the parse error, the judge threshold. */
  detail: z.string().nullable(),
  duplicate_of: z.string().nullable(),
  similarity: z.number().nullable(),
  similar_json: z.string().nullable(),
  judge_score: z.number().nullable(),
  judge_reason: z.string().nullable(),
  review: z.enum(reviewDecisions).nullable(),
  reviewed_at: z.string().nullable(),
  orig_instruction: z.string().nullable(),
  orig_input: z.string().nullable(),
  orig_output: z.string().nullable(),
  created_at: z.string(),
});
export type ItemRow = z.output<typeof itemRowSchema>;

// A plain function after the parse, not a zod transform: a transform took the schema off zod's fast path and cost
// about 8x at 52K rows.
export function toItem(r: ItemRow) {
  return {
    id: r.id,
    requestId: r.request_id,
    instruction: r.instruction,
    input: r.input,
    output: r.output,
    status: r.status,
    reason: r.reason,
    detail: r.detail,
    duplicateOf: r.duplicate_of,
    similarity: r.similarity,
    similar: r.similar_json ? similarSchema.parse(JSON.parse(r.similar_json)) : [],
    judgeScore: r.judge_score,
    judgeReason: r.judge_reason,
    review: r.review,
    reviewedAt: r.reviewed_at,
    original: r.orig_instruction === null ? null : { instruction: r.orig_instruction, input: r.orig_input ?? '', output: r.orig_output ?? '' },
    createdAt: r.created_at,
  };
}
/** One item of a run: its text, what curation decided, the judge's score and the reviewer's decision. */
export type StoredItem = ReturnType<typeof toItem>;

/** What curation decides about an item (online in generate, offline in curate). */
export interface CurationFields {
  status: CurationStatus;
  reason: string | null;
  /** Why, in words (the rule's explanation, the parse error…); absent means none. */
  detail?: string | null;
  duplicateOf: string | null;
  similarity: number | null;
  similar: SimilarRef[];
}

export interface NewItem extends Sample, CurationFields {
  id: number;
  idx: number;
}

export interface CurationUpdate extends CurationFields {
  id: number;
}
