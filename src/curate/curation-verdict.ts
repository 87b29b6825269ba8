import type { CurationFields } from '../store/run-store.js';
import type { CurationConfig } from '../config/curation.js';
import type { DuplicateCheck, DuplicateIndex } from './duplicate-index.js';
import { applyRules } from './rules.js';
import type { ContaminationHit, ContaminationIndex } from './contamination-index.js';

/** reason: 'rule:<name>', 'contamination', 'duplicate:exact' / 'rouge' / 'minhash' / 'semantic', 'judge', 'over-target', or null when kept. */
export interface CurationVerdict extends Required<Omit<CurationFields, 'status'>> {
  status: 'kept' | 'rejected' | 'duplicate';
}

export interface VerdictCandidate {
  /** The item's id in the duplicate index (String(item id) for a run, the record number for a file). */
  key: string;
  instruction: string;
  input: string;
  output: string;
  judgeScore?: number | null;
}

export interface VerdictSettings {
  curation: CurationConfig;
  lang: 'en' | 'zh';
  /** Kept items scored below this by the judge become rejected (reason 'judge'); null/undefined = off. */
  minJudgeScore?: number | null;
  /** Benchmark n-grams (curate --decontaminate); a sample sharing them is rejected with reason 'contamination'. */
  contamination?: ContaminationIndex | null;
}

/**
 * The one curation verdict, used online by generate's writer thread and offline by curate: rules first (cheap, and a
 * rejected item must not enter the duplicate index), then exact and ROUGE-L duplicates against everything in
 * `index` (the item is added when new), then the judge's threshold. A judge-rejected item stays in the index, so
 * judging never turns a later duplicate into a new unjudged sample and re-running gives the same answer.
 */
export function curationVerdict(item: VerdictCandidate, index: DuplicateIndex, settings: VerdictSettings): CurationVerdict {
  const broken = applyRules(item, settings.curation, settings.lang);
  if (broken) return { status: 'rejected', reason: `rule:${broken.rule}`, detail: broken.reason, duplicateOf: null, similarity: null, similar: [] };
  // Before the duplicate index: a contaminated sample must not become the survivor others are removed for.
  const hit = settings.contamination?.check(item.key, [item.instruction, item.input, item.output]) ?? null;
  if (hit) return { status: 'rejected', reason: 'contamination', detail: contaminationDetail(hit), duplicateOf: null, similarity: hit.shared / hit.total, similar: [] };
  const d = index.checkAndAdd(item.key, item.instruction, item.input);
  if (d.duplicateOf) return duplicateVerdict(d, null);
  const min = settings.minJudgeScore ?? null;
  if (min !== null && item.judgeScore !== null && item.judgeScore !== undefined && item.judgeScore < min) {
    return { status: 'rejected', reason: 'judge', detail: `judge score ${item.judgeScore} < ${min}`, duplicateOf: null, similarity: null, similar: d.similar };
  }
  return { status: 'kept', reason: null, detail: null, duplicateOf: null, similarity: null, similar: d.similar };
}

/** The verdict of an item a duplicate index found a copy of (`d.duplicateOf` set). */
export function duplicateVerdict(d: DuplicateCheck, detail: string | null): CurationVerdict {
  return { status: 'duplicate', reason: `duplicate:${d.kind ?? 'exact'}`, detail, duplicateOf: d.duplicateOf?.id ?? null, similarity: d.duplicateOf?.score ?? null, similar: d.similar };
}

/** The record of a removal: the benchmark file, its item and the shared span. */
export function contaminationDetail(h: ContaminationHit): string {
  return `${h.file} ${h.unit} ${h.position}: "${h.span}"${h.total > h.shared ? ` (${h.shared}/${h.total} n-grams)` : ''}`;
}

/** Past its target a run keeps nothing more, even a new item: it holds exactly `target`. */
export function overTargetVerdict(target: number): CurationVerdict {
  return { status: 'rejected', reason: 'over-target', detail: `the run already holds its target of ${target}`, duplicateOf: null, similarity: null, similar: [] };
}
