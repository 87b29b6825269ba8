import type { CurationFields } from '../store/run-store.js';
import type { CurationConfig } from '../config/curation.js';
import type { DuplicateIndex } from './duplicate-index.js';
import { applyRules } from './rules.js';

/** reason: 'rule:<name>', 'duplicate:exact' / 'duplicate:rouge', 'judge', 'over-target', or null when kept. */
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
  const d = index.checkAndAdd(item.key, item.instruction, item.input);
  if (d.duplicateOf) {
    return { status: 'duplicate', reason: `duplicate:${d.kind ?? 'exact'}`, detail: null, duplicateOf: d.duplicateOf.id, similarity: d.duplicateOf.score, similar: d.similar };
  }
  const min = settings.minJudgeScore ?? null;
  if (min !== null && item.judgeScore !== null && item.judgeScore !== undefined && item.judgeScore < min) {
    return { status: 'rejected', reason: 'judge', detail: `judge score ${item.judgeScore} < ${min}`, duplicateOf: null, similarity: null, similar: d.similar };
  }
  return { status: 'kept', reason: null, detail: null, duplicateOf: null, similarity: null, similar: d.similar };
}

/** Past its target a run keeps nothing more, even a new item: it holds exactly `target`. */
export function overTargetVerdict(target: number): CurationVerdict {
  return { status: 'rejected', reason: 'over-target', detail: `the run already holds its target of ${target}`, duplicateOf: null, similarity: null, similar: [] };
}
