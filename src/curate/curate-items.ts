import type { Lang } from '../data/sample.js';
import type { CurationConfig } from '../config/curation.js';
import { createDuplicateIndex } from './create-duplicate-index.js';
import { curationVerdict, type CurationVerdict, type VerdictCandidate } from './curation-verdict.js';
import { keepOrder } from './keep-order.js';
import type { ContaminationIndex } from './contamination-index.js';
import type { SimilarItem } from './duplicate-index.js';

export type { CurationVerdict };
export type CurationCandidate = VerdictCandidate & { ifd?: number | null };

export interface CurateOptions {
  /** Seed tasks the duplicate index starts from (as `seed:<id>`), as generation does. */
  seeds?: Array<{ id: string; instruction: string; input: string }>;
  /** Kept items scored below this by the judge become rejected (reason 'judge'); null/undefined = off. */
  minJudgeScore?: number | null;
  /** Benchmark n-grams to reject contaminated samples by (curate --decontaminate). */
  contamination?: ContaminationIndex | null;
  /** Semantic duplicates found beforehand (semanticMap), by item key. */
  semantic?: ReadonlyMap<string, SimilarItem> | null;
  /** Called every 1,000 items. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Curation of items, exactly as generation does it online (one verdict: curationVerdict), against a duplicate index
 * that starts from the seeds and grows with every kept item. Items are visited in the keep rule's order
 * (`cfg.dedup.keep`; arrival order for `first`, as generation), so the best copy of each duplicate group is the one
 * kept; verdicts come back in the items' own order.
 */
export function curateItems(items: CurationCandidate[], cfg: CurationConfig, lang: Lang, opts: CurateOptions = {}): CurationVerdict[] {
  const index = createDuplicateIndex(cfg, lang, opts.semantic ?? null);
  for (const s of opts.seeds ?? []) index.add(`seed:${s.id}`, s.instruction, s.input);
  const settings = { curation: cfg, lang, minJudgeScore: opts.minJudgeScore ?? null, contamination: opts.contamination ?? null };
  const verdicts = new Array<CurationVerdict>(items.length);
  keepOrder(items, cfg.dedup.keep).forEach((i, n) => {
    if (opts.onProgress && n % 1000 === 0) opts.onProgress(n, items.length);
    verdicts[i] = curationVerdict(items[i]!, index, settings);
  });
  return verdicts;
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
