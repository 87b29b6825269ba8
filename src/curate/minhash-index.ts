import { seededRandom } from '../random.js';
import { BandBuckets, growInt32, growUint32 } from './band-buckets.js';
import type { DuplicateCheck, DuplicateIndex, SimilarItem } from './duplicate-index.js';
import { lshBands, type LshBands } from './lsh-bands.js';
import { jaccardAtLeast, shingleSet } from './shingles.js';

export interface MinHashIndexOptions {
  /** An item is a duplicate when its Jaccard similarity with an earlier item is at least this. */
  threshold: number;
  /** Shingle width in tokens: word k-grams, character k-grams for CJK. */
  ngram: number;
  /** Seed of the hash functions: the same seed gives the same candidates, hence the same result. */
  seed: number;
  /** Most similar earlier items recorded per item, for review. */
  topSimilar: number;
  /** Least Jaccard for an earlier item to be recorded as similar. */
  similarMin: number;
  /** Bands and rows; default lshBands(threshold). */
  bands?: LshBands;
}

export interface MinHashStats {
  checks: number;
  /** Distinct earlier items found in a shared bucket. */
  candidates: number;
  /** Candidates whose exact Jaccard reached the threshold. */
  confirmed: number;
}

interface Pending {
  text: string;
  shingles: Uint32Array;
  keys: Uint32Array;
}

/**
 * MinHash-LSH near-duplicate index over instruction + input, in arrival order like the ROUGE-L index: an item is
 * a duplicate when an earlier added item shares a band with it and their exact Jaccard is at least the threshold.
 * MinHash only proposes candidates; the decision is the exact Jaccard of the shingle sets, so the outcome depends
 * on the threshold, the order and, beyond the recall stated by `bands`, never on the hashing. Only added (kept)
 * items are stored: shingles in one arena, band keys in BandBuckets.
 */
export class MinHashIndex implements DuplicateIndex {
  readonly bands: LshBands;
  readonly stats: MinHashStats = { checks: 0, candidates: 0, confirmed: 0 };
  private readonly opts: MinHashIndexOptions;
  private readonly seeds: Uint32Array;
  private readonly mults: Uint32Array;
  private readonly sig: Uint32Array;
  private readonly buckets = new BandBuckets();
  private readonly ids: string[] = [];
  private arena = new Uint32Array(1 << 16);
  private arenaUsed = 0;
  private starts = new Int32Array(1024);
  /** Check number that last visited each item, so an item found in several bands is verified once. */
  private stamps = new Int32Array(1024);
  private pending: Pending | null = null;

  constructor(opts: MinHashIndexOptions) {
    this.opts = opts;
    this.bands = opts.bands ?? lshBands(opts.threshold);
    const rnd = seededRandom(opts.seed);
    this.seeds = new Uint32Array(this.bands.bands * this.bands.rows);
    this.mults = new Uint32Array(this.seeds.length);
    for (let i = 0; i < this.seeds.length; i++) {
      this.seeds[i] = Math.floor(rnd() * 4294967296);
      this.mults[i] = Math.floor(rnd() * 4294967296) | 1;
    }
    this.sig = new Uint32Array(this.seeds.length);
  }

  get size(): number {
    return this.ids.length;
  }

  checkAndAdd(id: string, instruction: string, input: string): DuplicateCheck {
    const c = this.check(instruction, input);
    if (!c.duplicateOf) this.add(id, instruction, input);
    return c;
  }

  check(instruction: string, input: string): DuplicateCheck {
    const p = this.prepare(instruction, input);
    const stamp = ++this.stats.checks;
    const found: SimilarItem[] = [];
    let best: SimilarItem | null = null;
    const { threshold, similarMin } = this.opts;
    // Only Jaccards of at least `least` matter; J(A, B) ≤ min(|A|, |B|) / max(|A|, |B|), so an earlier set outside
    // [least·|A|, |A|/least] is skipped without reading it.
    const least = Math.min(threshold, similarMin);
    const len = p.shingles.length;
    const minLen = least > 0 ? Math.ceil(least * len - 1e-9) : 0;
    const maxLen = least > 0 ? Math.floor(len / least + 1e-9) : Infinity;
    const { buckets, stamps, starts, arena } = this;
    for (let b = 0; b < p.keys.length; b++) {
      for (let e = buckets.first(b, p.keys[b]!); e !== 0; e = buckets.next(e)) {
        const other = buckets.aux(e);
        if (other < minLen || other > maxLen) continue;
        const item = buckets.item(e);
        if (stamps[item] === stamp) continue;
        stamps[item] = stamp;
        this.stats.candidates++;
        const j = jaccardAtLeast(p.shingles, 0, len, arena, starts[item]!, other, least);
        if (j < 0) continue;
        if (j >= threshold) {
          this.stats.confirmed++;
          // The most similar earlier item is the one named; on a tie, the earliest.
          if (!best || j > best.score || (j === best.score && item < Number(best.id))) best = { id: String(item), score: j };
        }
        if (j >= similarMin) found.push({ id: String(item), score: j });
      }
    }
    const named = (s: SimilarItem): SimilarItem => ({ id: this.ids[Number(s.id)]!, score: s.score });
    found.sort((a, b) => b.score - a.score || Number(a.id) - Number(b.id));
    const similar = found.slice(0, this.opts.topSimilar).map(named);
    const dup = best as SimilarItem | null;
    return { duplicateOf: dup ? named(dup) : null, kind: dup ? 'minhash' : null, similar };
  }

  add(id: string, instruction: string, input: string): void {
    const p = this.prepare(instruction, input);
    if (p.shingles.length === 0) return;
    const item = this.ids.length;
    this.ids.push(id);
    if (item === this.starts.length) {
      this.starts = growInt32(this.starts);
      this.stamps = growInt32(this.stamps);
    }
    if (this.arenaUsed + p.shingles.length > this.arena.length) this.arena = growUint32(this.arena, this.arenaUsed + p.shingles.length);
    this.arena.set(p.shingles, this.arenaUsed);
    this.starts[item] = this.arenaUsed;
    this.arenaUsed += p.shingles.length;
    for (let b = 0; b < p.keys.length; b++) this.buckets.add(b, p.keys[b]!, item, p.shingles.length);
  }

  /** Shingles and band keys of a text; kept from check to the add that usually follows it. */
  private prepare(instruction: string, input: string): Pending {
    const text = input ? `${instruction}\n${input}` : instruction;
    if (this.pending?.text === text) return this.pending;
    const shingles = shingleSet(text, this.opts.ngram);
    const keys = new Uint32Array(shingles.length ? this.bands.bands : 0);
    if (shingles.length) {
      const sig = this.sig;
      const seeds = this.seeds;
      // Function by function, so each minimum stays in a register while the (few) shingles stream past.
      for (let i = 0; i < seeds.length; i++) {
        const seed = seeds[i]!;
        const mult = this.mults[i]!;
        let min = 0xffffffff;
        for (let s = 0; s < shingles.length; s++) {
          // The shingles are fmix32 outputs already: xor with a seed and a multiply by an odd number of its own,
          // folded, give each function an ordering of its own at half fmix32's cost.
          let h = Math.imul(shingles[s]! ^ seed, mult);
          h = (h ^ (h >>> 16)) >>> 0;
          if (h < min) min = h;
        }
        sig[i] = min;
      }
      const { bands, rows } = this.bands;
      for (let b = 0; b < bands; b++) {
        let h = 0x2545f491;
        for (let r = 0; r < rows; r++) {
          h = Math.imul(h ^ sig[b * rows + r]!, 0x01000193);
          h ^= h >>> 15;
        }
        keys[b] = h >>> 0;
      }
    }
    this.pending = { text, shingles, keys };
    return this.pending;
  }
}
