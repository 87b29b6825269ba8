import type { CurationFields } from '../store/run-store.js';
import type { CurationConfig } from './config.js';
import { applyRules } from './rules.js';
import { createDuplicateIndex } from './create-duplicate-index.js';
import type { Lang, Sample } from '../data/sample.js';

export interface CurationCandidate extends Sample {
  /** The item's id in the duplicate index (String(item id) for a run, the record number for a file). */
  key: string;
  judgeScore?: number | null;
}

/** reason: 'rule:<name>', 'duplicate:exact' / 'duplicate:rouge', 'judge', or null when kept. */
export interface CurationVerdict extends Required<Omit<CurationFields, 'status'>> {
  status: 'kept' | 'rejected' | 'duplicate';
}

export interface CurateOptions {
  /** Seed tasks the duplicate index starts from (as `seed:<id>`), as generation does. */
  seeds?: Array<{ id: string; instruction: string; input: string }>;
  /** Kept items scored below this by the judge become rejected (reason 'judge'); null/undefined = off. */
  minJudgeScore?: number | null;
  /** Called every 1,000 items. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Curation of items in arrival order, as generation does it online: rules first (a rejected item never enters the
 * duplicate index), then exact and ROUGE-L duplicates against the seeds and every earlier kept item, then the
 * judge's threshold. A judge-rejected item stays in the duplicate index, so judging never turns an earlier
 * duplicate into a new unjudged sample and re-running gives the same answer.
 */
export function curateItems(items: CurationCandidate[], cfg: CurationConfig, lang: Lang, opts: CurateOptions = {}): CurationVerdict[] {
  const index = createDuplicateIndex(cfg, lang);
  for (const s of opts.seeds ?? []) index.add(`seed:${s.id}`, s.instruction, s.input);
  const min = opts.minJudgeScore ?? null;
  return items.map((it, i) => {
    if (opts.onProgress && i % 1000 === 0) opts.onProgress(i, items.length);
    const broken = applyRules(it, cfg, lang);
    if (broken) return { status: 'rejected', reason: `rule:${broken.rule}`, detail: broken.reason, duplicateOf: null, similarity: null, similar: [] };
    const d = index.checkAndAdd(it.key, it.instruction, it.input);
    if (d.duplicateOf) {
      return { status: 'duplicate', reason: `duplicate:${d.kind ?? 'exact'}`, detail: null, duplicateOf: d.duplicateOf.id, similarity: d.duplicateOf.score, similar: d.similar };
    }
    if (min !== null && it.judgeScore !== null && it.judgeScore !== undefined && it.judgeScore < min) {
      return { status: 'rejected', reason: 'judge', detail: `judge score ${it.judgeScore} < ${min}`, duplicateOf: null, similarity: null, similar: d.similar };
    }
    return { status: 'kept', reason: null, detail: null, duplicateOf: null, similarity: null, similar: d.similar };
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
