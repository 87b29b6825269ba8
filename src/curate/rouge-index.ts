import type { DuplicateCheck, DuplicateIndex, SimilarItem } from './duplicate-index.js';
import { rougeTokens } from './rouge-tokenize.js';
import { LcsPattern, rougeLF1 } from './bit-lcs.js';

export interface RougeIndexOptions {
  /** An item is a duplicate when its ROUGE-L F1 against any earlier item is strictly above this (Alpaca: 0.7). */
  threshold: number;
  /** How many of the most similar earlier items to record per item (for review). 0 records none. */
  topSimilar: number;
  /** Earlier items scoring at least this are recorded as similar; below it they are not looked for. */
  similarMin: number;
}

/** Work counters, for the benchmark and for tuning. */
export interface RougeIndexStats {
  checks: number;
  /** Earlier items of a compatible length (2·min(m,n)/(m+n) >= τ) sharing an element of the query's prefix. */
  candidates: number;
  /** Candidates ruled out because the elements they share so far plus all elements after them are too few. */
  positionPruned: number;
  /** Candidates ruled out by LCS <= multiset overlap of tokens. */
  overlapPruned: number;
  /** Pairs whose LCS was computed. */
  pairsVerified: number;
  /** Times the element order was recomputed from document frequencies and the index rebuilt. */
  rebuilds: number;
}

// Float margin on every pruning bound: a bound only discards what is below τ by more than rounding, so the
// decision itself is always made by the exact rouge_score arithmetic in rougeLF1.
const EPS = 1e-9;
// An element is a (token, k-th occurrence) pair, keyed token·OCC + k, so multiset overlap becomes set overlap.
const OCC = 1 << 20;
// Elements that existed at the last freeze rank after all elements first seen later (those are rare so far).
const FROZEN_BASE = 2 ** 30;
const DEAD = -1;

interface PostingList {
  minLength: number;
  maxLength: number;
  /** byLength[n]: items of n tokens whose indexed prefix holds the element, and its position in their order. */
  byLength: Array<{ items: number[]; positions: number[] } | undefined>;
}

/**
 * ROUGE-L near-duplicate index over instructions that decides exactly as Alpaca's pairwise loop: an item is a
 * duplicate iff its F1 against some earlier added item is > threshold, in arrival order. Instead of an LCS per
 * pair it uses, cheapest first:
 * - the length bound F1 <= 2·min(m,n)/(m+n): postings are bucketed by item length and only compatible lengths
 *   are read;
 * - prefix filtering: F1 >= τ needs LCS >= ⌈τ(m+n)/2⌉ and LCS <= multiset overlap, so under one total order of
 *   token occurrences the first |A|−α+1 of A and of B must share one (Chaudhuri et al. 2006). Only those prefixes
 *   are indexed, rarest occurrences first, with positions for PPJoin's positional bound (Xiao et al. 2008). Items
 *   arrive one by one, so the order comes from document frequencies seen so far and is recomputed, with the
 *   index rebuilt, each time the index doubles;
 * - the exact multiset overlap, which rules out almost every candidate left;
 * - a bit-parallel LCS for the few pairs that remain.
 * τ is min(threshold, similarMin), so the same pass finds the most similar earlier items for review.
 */
export class RougeIndex implements DuplicateIndex {
  readonly threshold: number;
  readonly stats: RougeIndexStats = { checks: 0, candidates: 0, positionPruned: 0, overlapPruned: 0, pairsVerified: 0, rebuilds: 0 };
  private readonly topSimilar: number;
  private readonly similarMin: number;
  private readonly tau: number;

  private readonly vocab = new Map<string, number>();
  private readonly elementIds = new Map<number, number>();
  /** Number of added items holding each element. */
  private elementDf = new Int32Array(1024);
  private elementCount = 0;
  /** Rank of each element that existed at the last freeze; later elements rank by id, before all of these. */
  private frozenRank = new Int32Array(0);
  private frozenCount = 0;
  private nextRebuild = 64;

  private readonly ids: string[] = [];
  /** Item r's tokens are tokens[start[r] .. start[r]+length[r]); its elements, in index order, are at the same
   *  offsets of `elements`. One arena each keeps a scan over thousands of candidates in cache. */
  private tokens = new Int32Array(16384);
  private elements = new Int32Array(16384);
  private used = 0;
  private start = new Int32Array(1024);
  private length = new Int32Array(1024);
  private postings: Array<PostingList | undefined> = [];
  /** Per item, for the current query: stamp = query number when touched; overlap = shared prefix elements (or
   *  DEAD); lastPosition = its position of the last shared one. */
  private stamp = new Int32Array(1024);
  private overlap = new Int32Array(1024);
  private lastPosition = new Int32Array(1024);
  /** Scratch: the current query's candidates, in the order found. */
  private cands = new Int32Array(1024);
  /** mark[element] === query number when the current query holds it. */
  private mark = new Int32Array(1024);
  private query = 0;
  /** Scratch: per-token counter, all zero between calls. */
  private tokenCount = new Int32Array(1024);
  private readonly pattern = new LcsPattern();

  constructor(opts: RougeIndexOptions) {
    if (!(opts.threshold >= 0 && opts.threshold <= 1)) throw new TypeError(`threshold must be in [0, 1], got ${opts.threshold}`);
    if (!(opts.similarMin >= 0 && opts.similarMin <= 1)) throw new TypeError(`similarMin must be in [0, 1], got ${opts.similarMin}`);
    if (!(Number.isInteger(opts.topSimilar) && opts.topSimilar >= 0)) throw new TypeError(`topSimilar must be a non-negative integer, got ${opts.topSimilar}`);
    this.threshold = opts.threshold;
    this.topSimilar = opts.topSimilar;
    this.similarMin = opts.similarMin;
    this.tau = opts.topSimilar > 0 ? Math.min(opts.threshold, opts.similarMin) : opts.threshold;
  }

  get size(): number {
    return this.ids.length;
  }

  checkAndAdd(id: string, instruction: string, _input = ''): DuplicateCheck {
    const toks = this.tokenIds(instruction);
    const check = this.checkTokens(toks);
    if (check.duplicateOf === null) this.insert(id, toks);
    return check;
  }

  /** Checks without adding (a caller combining several indexes adds only when all of them say "new"). */
  check(instruction: string, _input = ''): DuplicateCheck {
    return this.checkTokens(this.tokenIds(instruction));
  }

  add(id: string, instruction: string, _input = ''): void {
    this.insert(id, this.tokenIds(instruction));
  }

  private tokenIds(text: string): Int32Array {
    const words = rougeTokens(text);
    const out = new Int32Array(words.length);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      let t = this.vocab.get(w);
      if (t === undefined) {
        t = this.vocab.size;
        this.vocab.set(w, t);
      }
      out[i] = t;
    }
    return out;
  }

  /** Smallest LCS that any partner allowed by the length bound needs for F1 >= τ with an item of this length. */
  private minOverlap(len: number): number {
    const tau = this.tau;
    const partnerMin = Math.max(1, Math.ceil((tau * len) / (2 - tau) - EPS));
    return Math.min(len, Math.max(1, Math.ceil((tau * (len + partnerMin)) / 2 - EPS)));
  }

  private rankOf(e: number): number {
    return e < this.frozenCount ? FROZEN_BASE + this.frozenRank[e]! : e;
  }

  private readonly byRank = (a: number, b: number): number => this.rankOf(a) - this.rankOf(b);

  private checkTokens(toks: Int32Array): DuplicateCheck {
    this.stats.checks++;
    const m = toks.length;
    if (m === 0 || this.ids.length === 0) return { duplicateOf: null, kind: null, similar: [] };
    const all = this.queryElements(toks);
    const q = ++this.query;
    const count = this.scanPrefix(all, m - this.minOverlap(m) + 1, m, q);
    if (count === 0) return { duplicateOf: null, kind: null, similar: [] };
    return this.verify(toks, all, count, q);
  }

  /**
   * The query's elements in index order. Occurrences that no added item holds are -1 and come first: no posting
   * list or prefix contains them, so placing them before everything keeps the order one total order, and they still
   * count in the prefix length.
   */
  private queryElements(toks: Int32Array): Int32Array {
    const out = new Int32Array(toks.length);
    let unknown = 0;
    let known = toks.length;
    const occ = this.occurrences(toks);
    for (let i = 0; i < toks.length; i++) {
      const e = this.elementIds.get(toks[i]! * OCC + occ[i]!);
      if (e === undefined) out[unknown++] = -1;
      else out[--known] = e;
    }
    out.subarray(unknown).sort(this.byRank);
    return out;
  }

  /** occ[i] = k when toks[i] is the k-th occurrence of its token in toks. */
  private occurrences(toks: Int32Array): Int32Array {
    if (this.vocab.size > this.tokenCount.length) this.tokenCount = grow(this.tokenCount, this.vocab.size);
    const count = this.tokenCount;
    const occ = new Int32Array(toks.length);
    for (let i = 0; i < toks.length; i++) occ[i] = ++count[toks[i]!]!;
    for (let i = 0; i < toks.length; i++) count[toks[i]!] = 0;
    return occ;
  }

  /**
   * Earlier items of a compatible length that share an element of the query's prefix and survive the positional
   * bound. Leaves each one's count of shared prefix elements in `overlap` (DEAD once ruled out) and the position of
   * the last one in `lastPosition`.
   */
  private scanPrefix(all: Int32Array, prefix: number, m: number, q: number): number {
    const stamp = this.stamp;
    if (this.cands.length < this.ids.length) this.cands = grow(this.cands, this.ids.length);
    const cands = this.cands;
    let count = 0;
    const overlap = this.overlap;
    const lastPosition = this.lastPosition;
    const tau = this.tau;
    const nLo = Math.max(1, Math.ceil((tau * m) / (2 - tau) - EPS));
    const nHi = tau > 0 ? Math.floor((m * (2 - tau)) / tau + EPS) : Infinity;
    let candidates = 0;
    let positionPruned = 0;
    for (let i = 0; i < prefix; i++) {
      const e = all[i]!;
      if (e < 0) continue;
      const pl = this.postings[e];
      if (pl === undefined) continue;
      const hi = Math.min(nHi, pl.maxLength);
      for (let n = Math.max(nLo, pl.minLength); n <= hi; n++) {
        const need = Math.max(1, Math.ceil((tau * (m + n)) / 2 - EPS));
        // Even if every query element from i on matched there would be fewer than `need`; need grows with n.
        if (m - i < need) break;
        const bucket = pl.byLength[n];
        if (bucket === undefined) continue;
        const { items, positions } = bucket;
        for (let k = 0; k < items.length; k++) {
          const r = items[k]!;
          let acc: number;
          if (stamp[r] !== q) {
            stamp[r] = q;
            candidates++;
            acc = 1;
          } else {
            acc = overlap[r]!;
            if (acc === DEAD) continue;
            acc++;
          }
          // Positional bound (PPJoin): nothing before i in the query or before j in the item is shared except
          // what was counted, so at most the elements after them can still match.
          const j = positions[k]!;
          if (acc + Math.min(m - i - 1, n - j - 1) < need) {
            overlap[r] = DEAD;
            positionPruned++;
          } else {
            if (acc === 1) cands[count++] = r;
            overlap[r] = acc;
            lastPosition[r] = j;
          }
        }
      }
    }
    this.stats.candidates += candidates;
    this.stats.positionPruned += positionPruned;
    return count;
  }

  /**
   * Multiset overlap, then exact ROUGE-L, for the candidates. duplicateOf is the most similar earlier item above the
   * threshold (the earliest among equal scores); `similar` the top ones scoring >= similarMin.
   */
  private verify(toks: Int32Array, all: Int32Array, count: number, q: number): DuplicateCheck {
    const m = toks.length;
    const tau = this.tau;
    const overlap = this.overlap;
    if (this.elementCount > this.mark.length) this.mark = grow(this.mark, this.elementCount);
    const mark = this.mark;
    for (let i = 0; i < all.length; i++) if (all[i]! >= 0) mark[all[i]!] = q;
    this.pattern.set(toks, this.vocab.size);
    const elements = this.elements;
    const top: Array<SimilarItem & { order: number }> = [];
    let best: { r: number; score: number } | null = null;
    const cands = this.cands;
    const start = this.start;
    const length = this.length;
    for (let c = 0; c < count; c++) {
      const r = cands[c]!;
      const acc = overlap[r]!;
      if (acc === DEAD) continue;
      const s = start[r]!;
      const n = length[r]!;
      const need = Math.max(1, Math.ceil((tau * (m + n)) / 2 - EPS));
      // Every shared element at or before the last shared prefix position was counted in the scan, so only the
      // elements after it remain; stop as soon as too few are left.
      let ov = acc;
      const end = s + n;
      for (let k = s + this.lastPosition[r]! + 1; k < end && ov + (end - k) >= need; k++) if (mark[elements[k]!] === q) ov++;
      if (ov < need) {
        this.stats.overlapPruned++;
        continue;
      }
      this.stats.pairsVerified++;
      const f = rougeLF1(this.pattern.lcs(this.tokens, s, end), m, n);
      if (f > this.threshold && (best === null || f > best.score || (f === best.score && r < best.r))) best = { r, score: f };
      if (this.topSimilar > 0 && f >= this.similarMin) insertTop(top, { id: this.ids[r]!, score: f, order: r }, this.topSimilar);
    }
    const similar = top.map((t) => ({ id: t.id, score: t.score }));
    if (best !== null) return { duplicateOf: { id: this.ids[best.r]!, score: best.score }, kind: 'rouge', similar };
    return { duplicateOf: null, kind: null, similar };
  }

  private insert(id: string, toks: Int32Array): void {
    const r = this.ids.length;
    this.ids.push(id);
    if (r >= this.stamp.length) {
      this.stamp = grow(this.stamp, r + 1);
      this.overlap = grow(this.overlap, r + 1);
      this.lastPosition = grow(this.lastPosition, r + 1);
      this.start = grow(this.start, r + 1);
      this.length = grow(this.length, r + 1);
    }
    const n = toks.length;
    if (this.used + n > this.tokens.length) {
      this.tokens = grow(this.tokens, this.used + n);
      this.elements = grow(this.elements, this.used + n);
    }
    this.start[r] = this.used;
    this.length[r] = n;
    this.tokens.set(toks, this.used);
    const occ = this.occurrences(toks);
    for (let i = 0; i < n; i++) {
      const key = toks[i]! * OCC + occ[i]!;
      let e = this.elementIds.get(key);
      if (e === undefined) {
        e = this.elementCount++;
        this.elementIds.set(key, e);
        if (e >= this.elementDf.length) this.elementDf = grow(this.elementDf, e + 1);
      }
      this.elementDf[e]!++;
      this.elements[this.used + i] = e;
    }
    this.used += n;
    if (this.ids.length >= this.nextRebuild) {
      this.nextRebuild *= 2;
      this.rebuild();
      return;
    }
    this.ownElements(r).sort(this.byRank);
    this.indexPrefix(r);
  }

  private ownElements(r: number): Int32Array {
    const s = this.start[r]!;
    return this.elements.subarray(s, s + this.length[r]!);
  }

  private indexPrefix(r: number): void {
    const n = this.length[r]!;
    if (n === 0) return;
    const els = this.ownElements(r);
    const prefix = n - this.minOverlap(n) + 1;
    for (let i = 0; i < prefix; i++) {
      const e = els[i]!;
      let pl = this.postings[e];
      if (pl === undefined) {
        pl = { minLength: n, maxLength: n, byLength: [] };
        this.postings[e] = pl;
      }
      if (n < pl.minLength) pl.minLength = n;
      if (n > pl.maxLength) pl.maxLength = n;
      let bucket = pl.byLength[n];
      if (bucket === undefined) {
        bucket = { items: [], positions: [] };
        pl.byLength[n] = bucket;
      }
      bucket.items.push(r);
      bucket.positions.push(i);
    }
  }

  /** Freezes a rarest-first order from current document frequencies and rebuilds every prefix under it. */
  private rebuild(): void {
    this.stats.rebuilds++;
    const count = this.elementCount;
    const df = this.elementDf;
    const order = Int32Array.from({ length: count }, (_, e) => e);
    order.sort((a, b) => df[a]! - df[b]! || a - b);
    const rank = new Int32Array(count);
    for (let i = 0; i < count; i++) rank[order[i]!] = i;
    this.frozenRank = rank;
    this.frozenCount = count;
    this.postings = [];
    for (let r = 0; r < this.ids.length; r++) {
      this.ownElements(r).sort(this.byRank);
      this.indexPrefix(r);
    }
  }
}

/** Keeps `top` sorted best first (earlier item first among equal scores), at most k long. */
function insertTop(top: Array<SimilarItem & { order: number }>, entry: SimilarItem & { order: number }, k: number): void {
  let i = top.length;
  while (i > 0 && (top[i - 1]!.score < entry.score || (top[i - 1]!.score === entry.score && top[i - 1]!.order > entry.order))) i--;
  if (i >= k) return;
  top.splice(i, 0, entry);
  if (top.length > k) top.pop();
}

function grow(a: Int32Array, min: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}
