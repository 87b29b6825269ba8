import { rougeTokens } from './rouge-tokenize.js';

/**
 * Shingles for MinHash: k-grams of tokens, hashed to 32 bits, sorted and unique. Tokens are those of ROUGE-L
 * (lower-cased Latin words and digits; each Han, Kana or Hangul character one token), so a Chinese text gives
 * character k-grams and an English one word k-grams, and mixed text both.
 */
export function shingleSet(text: string, k: number): Uint32Array {
  const tokens = rougeTokens(text);
  if (tokens.length === 0) return new Uint32Array(0);
  const hashes = tokens.map(hashString);
  // A text shorter than k is one shingle of all its tokens, so two short identical texts still match.
  const width = Math.min(k, hashes.length);
  const out = new Uint32Array(hashes.length - width + 1);
  for (let i = 0; i < out.length; i++) {
    let h = 0x9e3779b9 ^ width;
    for (let j = 0; j < width; j++) h = fmix32(Math.imul(h ^ hashes[i + j]!, 0x01000193));
    out[i] = h;
  }
  out.sort();
  return uniqueSorted(out);
}

/** FNV-1a over UTF-16 code units: fast, deterministic, and good enough before fmix32 spreads the bits. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
export function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function uniqueSorted(a: Uint32Array): Uint32Array {
  if (a.length < 2) return a;
  let w = 1;
  for (let i = 1; i < a.length; i++) if (a[i] !== a[w - 1]) a[w++] = a[i]!;
  return w === a.length ? a : a.slice(0, w);
}

/** Exact Jaccard similarity of two sorted, unique shingle sets. Two empty sets are not similar (0). */
export function jaccard(a: ArrayLike<number>, b: ArrayLike<number>, aStart = 0, aLen = a.length, bStart = 0, bLen = b.length): number {
  if (aLen === 0 || bLen === 0) return 0;
  let i = aStart;
  let j = bStart;
  const ae = aStart + aLen;
  const be = bStart + bLen;
  let common = 0;
  while (i < ae && j < be) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      common++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return common / (aLen + bLen - common);
}
