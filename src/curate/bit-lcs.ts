/**
 * Bit-parallel LCS length (Allison–Dix / Hyyrö): the pattern's match masks are built once, then each text token
 * costs one add-with-carry per 32 pattern tokens instead of a row of the O(m·n) table. Tokens are integer ids.
 * V starts all ones; per text token with match mask M: U = V & M, V = (V + U) | (V - U), and V - U = V & ~M
 * because U ⊆ V. LCS = number of zero bits among the low m bits of V.
 */
export class LcsPattern {
  private m = 0;
  private words = 1;
  private lowMask = 0;
  /** slot[tokenId] = 1 + index of that token's mask in `masks`, 0 when the token is not in the pattern. */
  private slot = new Int32Array(1024);
  private masks = new Uint32Array(256);
  private v = new Uint32Array(8);
  private readonly distinct: number[] = [];

  get length(): number {
    return this.m;
  }

  /** Re-targets this object to a new pattern (reusing its buffers; a scan of the whole index uses one). */
  set(pattern: ArrayLike<number>, vocabSize: number): void {
    for (const t of this.distinct) this.slot[t] = 0;
    this.distinct.length = 0;
    if (vocabSize > this.slot.length) this.slot = new Int32Array(Math.max(vocabSize, this.slot.length * 2));
    const m = pattern.length;
    const words = Math.max(1, Math.ceil(m / 32));
    if (words * m > this.masks.length) this.masks = new Uint32Array(Math.max(words * m, this.masks.length * 2));
    if (words > this.v.length) this.v = new Uint32Array(words * 2);
    for (let i = 0; i < m; i++) {
      const t = pattern[i]!;
      let s = this.slot[t]!;
      if (s === 0) {
        this.distinct.push(t);
        s = this.distinct.length;
        this.slot[t] = s;
        this.masks.fill(0, (s - 1) * words, s * words);
      }
      const base = (s - 1) * words;
      this.masks[base + (i >>> 5)]! |= 1 << (i & 31);
    }
    this.m = m;
    this.words = words;
    this.lowMask = m >= 32 ? -1 : (1 << m) - 1;
  }

  /** True when the token occurs in the pattern. */
  has(token: number): boolean {
    return token < this.slot.length && this.slot[token]! !== 0;
  }

  /** LCS length of the pattern and text[from..to); text tokens absent from the pattern cost one array read each. */
  lcs(text: ArrayLike<number>, from = 0, to = text.length): number {
    const m = this.m;
    if (m === 0) return 0;
    const slot = this.slot;
    const masks = this.masks;
    if (this.words === 1) {
      let v = -1;
      for (let j = from; j < to; j++) {
        const t = text[j]!;
        const s = t < slot.length ? slot[t]! : 0;
        if (s === 0) continue;
        const u = v & masks[s - 1]!;
        v = (v + u) | (v - u);
      }
      return m - popcount(v & this.lowMask);
    }
    const words = this.words;
    const v = this.v;
    v.fill(0xffffffff, 0, words);
    for (let j = from; j < to; j++) {
      const t = text[j]!;
      const s = t < slot.length ? slot[t]! : 0;
      if (s === 0) continue;
      const base = (s - 1) * words;
      let carry = 0;
      for (let w = 0; w < words; w++) {
        const vw = v[w]!;
        const mw = masks[base + w]!;
        const uw = (vw & mw) >>> 0;
        const sum = vw + uw + carry;
        carry = sum > 0xffffffff ? 1 : 0;
        v[w] = (sum >>> 0) | (vw & ~mw);
      }
    }
    let ones = 0;
    const full = m >>> 5;
    for (let w = 0; w < full; w++) ones += popcount(v[w]!);
    const rest = m & 31;
    if (rest) ones += popcount(v[full]! & ((1 << rest) - 1));
    return m - ones;
  }
}

export function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** LCS length by the classic dynamic programme; the reference the bit-parallel version is tested against. */
export function lcsTable(a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  const n = b.length;
  let prev = new Int32Array(n + 1);
  let cur = new Int32Array(n + 1);
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= n; j++) {
      cur[j] = ai === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n]!;
}

/**
 * ROUGE-L F1 from an LCS length, computed with the same floating-point operations as rouge_score's
 * `_score_lcs` + `scoring.fmeasure` (precision = lcs/len(prediction), recall = lcs/len(target),
 * F = 2PR/(P+R)), so a threshold comparison decides exactly as Alpaca's `> 0.7` did. Empty side → 0.
 */
export function rougeLF1(lcs: number, targetLength: number, predictionLength: number): number {
  if (targetLength === 0 || predictionLength === 0) return 0;
  const precision = lcs / predictionLength;
  const recall = lcs / targetLength;
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}
