import { ExactDuplicateIndex, type DuplicateCheck, type DuplicateIndex, type SimilarItem } from './duplicate-index.js';
import { RougeIndex } from './rouge-index.js';
import { MinHashIndex } from './minhash-index.js';
import type { CurationConfig } from '../config/curation.js';
import type { Lang } from '../data/sample.js';

/**
 * Exact duplicates first (a hash lookup), then MinHash, then ROUGE-L near-duplicates; an item enters every index
 * only when none calls it a duplicate, so all always hold the same kept items. ROUGE-L goes last because its
 * check also adds.
 */
export class CombinedDuplicateIndex implements DuplicateIndex {
  constructor(
    private readonly exact: ExactDuplicateIndex | null,
    readonly rouge: RougeIndex | null,
    readonly minhash: MinHashIndex | null = null,
    /** Semantic duplicates found beforehand (semanticMap), by item key. */
    private readonly semantic: ReadonlyMap<string, SimilarItem> | null = null,
  ) {}

  get size(): number {
    return this.rouge?.size ?? this.minhash?.size ?? this.exact?.size ?? 0;
  }

  checkAndAdd(id: string, instruction: string, input: string): DuplicateCheck {
    if (this.exact) {
      const e = this.exact.check(instruction, input);
      if (e.duplicateOf) return e;
    }
    const s = this.semantic?.get(id);
    if (s) return { duplicateOf: s, kind: 'semantic', similar: [s] };
    let m: DuplicateCheck | null = null;
    if (this.minhash) {
      m = this.minhash.check(instruction, input);
      if (m.duplicateOf) return m;
    }
    if (this.rouge) {
      const r = this.rouge.checkAndAdd(id, instruction, input);
      if (r.duplicateOf) return r;
      this.exact?.add(id, instruction, input);
      this.minhash?.add(id, instruction, input);
      return r;
    }
    this.exact?.add(id, instruction, input);
    this.minhash?.add(id, instruction, input);
    return m ?? { duplicateOf: null, kind: null, similar: [] };
  }

  /**
   * What checkAndAdd would answer for a new item, without adding it (semantic duplicates, found by item key, are not
   * looked up): generation asks it of an instruction before paying for its response.
   */
  check(instruction: string, input: string): DuplicateCheck {
    for (const index of [this.exact, this.minhash, this.rouge]) {
      const d = index?.check(instruction, input);
      if (d?.duplicateOf) return d;
    }
    return { duplicateOf: null, kind: null, similar: [] };
  }

  add(id: string, instruction: string, input: string): void {
    this.exact?.add(id, instruction, input);
    this.minhash?.add(id, instruction, input);
    this.rouge?.add(id, instruction, input);
  }
}

/**
 * The duplicate index of a run or file under `cfg.dedup`. Generation calls this once, adds the seeds
 * (`add('seed:' + id, …)`) and, on resume, the kept items (`add(String(id), …)`), then `checkAndAdd` per arriving
 * item. `lang` is accepted for symmetry with the rules: the tokenizer already treats CJK characters as tokens and
 * Latin words as rouge_score does, so both languages use the same index.
 */
export function createDuplicateIndex(cfg: CurationConfig, _lang: Lang = 'en', semantic: ReadonlyMap<string, SimilarItem> | null = null): CombinedDuplicateIndex {
  const d = cfg.dedup;
  return new CombinedDuplicateIndex(
    d.exact ? new ExactDuplicateIndex() : null,
    d.rouge ? new RougeIndex({ threshold: d.rougeThreshold, topSimilar: d.topSimilar, similarMin: d.similarMin }) : null,
    d.minhash
      ? new MinHashIndex({ threshold: d.minhashThreshold, ngram: d.minhashNgram, seed: d.minhashSeed, topSimilar: d.topSimilar, similarMin: Math.min(d.minhashThreshold, d.similarMin) })
      : null,
    semantic,
  );
}
