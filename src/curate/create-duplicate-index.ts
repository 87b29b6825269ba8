import { ExactDuplicateIndex, type DuplicateCheck, type DuplicateIndex } from './duplicate-index.js';
import { RougeIndex } from './rouge-index.js';
import type { CurationConfig } from '../config/curation.js';
import type { Lang } from '../data/sample.js';

/**
 * Exact duplicates first (a hash lookup), then ROUGE-L near-duplicates; an item enters both indexes only when
 * neither calls it a duplicate, so both always hold the same kept items.
 */
export class CombinedDuplicateIndex implements DuplicateIndex {
  constructor(
    private readonly exact: ExactDuplicateIndex | null,
    readonly rouge: RougeIndex | null,
  ) {}

  get size(): number {
    return this.rouge?.size ?? this.exact?.size ?? 0;
  }

  checkAndAdd(id: string, instruction: string, input: string): DuplicateCheck {
    if (this.exact) {
      const e = this.exact.check(instruction, input);
      if (e.duplicateOf) return e;
    }
    if (this.rouge) {
      const r = this.rouge.checkAndAdd(id, instruction, input);
      if (r.duplicateOf) return r;
      this.exact?.add(id, instruction, input);
      return r;
    }
    return this.exact ? this.exact.checkAndAdd(id, instruction, input) : { duplicateOf: null, kind: null, similar: [] };
  }

  add(id: string, instruction: string, input: string): void {
    this.exact?.add(id, instruction, input);
    this.rouge?.add(id, instruction, input);
  }
}

/**
 * The duplicate index of a run or file under `cfg.dedup`. Generation calls this once, adds the seeds
 * (`add('seed:' + id, …)`) and, on resume, the kept items (`add(String(id), …)`), then `checkAndAdd` per arriving
 * item. `lang` is accepted for symmetry with the rules: the tokenizer already treats CJK characters as tokens and
 * Latin words as rouge_score does, so both languages use the same index.
 */
export function createDuplicateIndex(cfg: CurationConfig, _lang: Lang = 'en'): CombinedDuplicateIndex {
  const d = cfg.dedup;
  return new CombinedDuplicateIndex(
    d.exact ? new ExactDuplicateIndex() : null,
    d.rouge ? new RougeIndex({ threshold: d.rougeThreshold, topSimilar: d.topSimilar, similarMin: d.similarMin }) : null,
  );
}
