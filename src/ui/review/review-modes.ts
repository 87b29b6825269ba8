import { exportFormatSchema, type ExportFormat } from '../../data/alpaca-file.js';
import { curationStatuses, reviewDecisions } from '../../review/run-access.js';
import type { TextEdit } from '../text-edit.js';
import type { ReviewFilter } from './review-view.js';

// The review screen's modes (list, help, search, edit, filter, export) and the choices of its dialogs.

export const editFieldNames = ['instruction', 'input', 'output'] as const;
export const statusChoices = [null, ...curationStatuses] as const;
export const reviewChoices = [null, 'pending', ...reviewDecisions] as const;
export const exportSets = ['accepted', 'usable'] as const;
export type ExportSet = (typeof exportSets)[number];
export const exportFormats: readonly ExportFormat[] = exportFormatSchema.options;

export interface FilterDraft {
  status: ReviewFilter['status'];
  review: ReviewFilter['review'];
  reason: string | null;
  minScore: TextEdit;
  maxScore: TextEdit;
}
/** Rows of the filter dialog, in order; the first three cycle with ←/→, the last two are text fields. */
export const filterRows = ['status', 'review', 'reason', 'minScore', 'maxScore'] as const;
export const exportRows = ['set', 'format', 'path'] as const;

export const extensionOf = (f: ExportFormat) => (f === 'alpaca' ? '.json' : '.jsonl');

export type ReviewMode =
  | { kind: 'list' }
  | { kind: 'help' }
  | { kind: 'search'; field: TextEdit; before: string }
  | { kind: 'edit'; id: number; fields: [TextEdit, TextEdit, TextEdit]; focus: number }
  | { kind: 'filter'; draft: FilterDraft; focus: number; reasons: string[] }
  | { kind: 'export'; set: ExportSet; format: ExportFormat; path: TextEdit; focus: number };


/** The next (step 1) or previous (step -1) of `choices`, wrapping around. */
export function cycle<T>(choices: readonly T[], current: T, step: number): T {
  const i = choices.indexOf(current);
  return choices[(((i === -1 ? 0 : i) + step) % choices.length + choices.length) % choices.length]!;
}

/** A judge score bound typed in the filter: null when empty, NaN when not a number. */
export function parseBound(s: string): number | null {
  const t = s.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : Number.NaN;
}
