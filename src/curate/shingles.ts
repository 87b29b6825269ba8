import { rougeTokens } from './rouge-tokenize.js';

/**
 * Shingles for MinHash: k-grams of tokens, hashed to 32 bits, sorted and unique. Tokens are those of ROUGE-L
 * (lower-cased Latin words and digits; each Han, Kana or Hangul character one token), so a Chinese text gives
 * character k-grams and an English one word k-grams, and mixed text both.
 */
export function shingleSet(text: string, k: number): Uint32Array {
  const hashes = asciiTokenHashes(text) ?? rougeTokens(text).map(hashString);
  if (hashes.length === 0) return new Uint32Array(0);
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

/**
 * hashString of each of rougeTokens(text), read straight off an ASCII text without making the tokens (lower case,
 * runs of [a-z0-9]); null for any other text, which takes the general path.
 */
function asciiTokenHashes(text: string): number[] | null {
  const out: number[] = [];
  let h = 0x811c9dc5;
  let inToken = false;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 128) return null;
    if (c >= 65 && c <= 90) c += 32;
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      h = Math.imul(h ^ c, 0x01000193);
      inToken = true;
    } else if (inToken) {
      out.push(fmix32(h));
      h = 0x811c9dc5;
      inToken = false;
    }
  }
  if (inToken) out.push(fmix32(h));
  return out;
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
  // With no floor the early exit never fires and the full ratio comes back: one merge loop, not two.
  return jaccardAtLeast(a, aStart, aLen, b, bStart, bLen, 0);
}

/**
 * Exact Jaccard of two sorted, unique shingle sets when it is at least `min`, else -1, stopping as soon as the
 * shingles left cannot reach `min`: J = c / (|a| + |b| − c) ≥ min needs c ≥ min·(|a| + |b|) / (1 + min) common
 * shingles. What it returns is the same number `jaccard` gives.
 */
export function jaccardAtLeast(a: ArrayLike<number>, aStart: number, aLen: number, b: ArrayLike<number>, bStart: number, bLen: number, min: number): number {
  if (aLen === 0 || bLen === 0) return min <= 0 ? 0 : -1;
  // A hair below the bound, so rounding never drops a pair whose division lands on min itself.
  const need = Math.ceil((min * (aLen + bLen)) / (1 + min) - 1e-9);
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
      continue;
    }
    if (x < y) i++;
    else j++;
    if (common + Math.min(ae - i, be - j) < need) return -1;
  }
  const jac = common / (aLen + bLen - common);
  return jac >= min ? jac : -1;
}
