import type { Lang } from '../data/sample.js';
import type { CurationConfig } from '../config/curation.js';
import { createDuplicateIndex } from './create-duplicate-index.js';
import { curationVerdict, type CurationVerdict, type VerdictCandidate } from './curation-verdict.js';

export type { CurationVerdict };
export type CurationCandidate = VerdictCandidate;

export interface CurateOptions {
  /** Seed tasks the duplicate index starts from (as `seed:<id>`), as generation does. */
  seeds?: Array<{ id: string; instruction: string; input: string }>;
  /** Kept items scored below this by the judge become rejected (reason 'judge'); null/undefined = off. */
  minJudgeScore?: number | null;
  /** Called every 1,000 items. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Curation of items in arrival order, exactly as generation does it online (one verdict: curationVerdict), against a
 * duplicate index that starts from the seeds and grows with every kept item.
 */
export function curateItems(items: CurationCandidate[], cfg: CurationConfig, lang: Lang, opts: CurateOptions = {}): CurationVerdict[] {
  const index = createDuplicateIndex(cfg, lang);
  for (const s of opts.seeds ?? []) index.add(`seed:${s.id}`, s.instruction, s.input);
  const settings = { curation: cfg, lang, minJudgeScore: opts.minJudgeScore ?? null };
  return items.map((it, i) => {
    if (opts.onProgress && i % 1000 === 0) opts.onProgress(i, items.length);
    return curationVerdict(it, index, settings);
  });
}

/** Counts by status and by reason, for reports. */
export function countVerdicts(verdicts: Array<{ status: string; reason: string | null }>): { total: number; byStatus: Record<string, number>; byReason: Record<string, number> } {
  const byStatus: Record<string, number> = {};
  const byReason: Record<string, number> = {};
  for (const v of verdicts) {
    byStatus[v.status] = (byStatus[v.status] ?? 0) + 1;
    if (v.reason) byReason[v.reason] = (byReason[v.reason] ?? 0) + 1;
  }
  return { total: verdicts.length, byStatus, byReason };
}
