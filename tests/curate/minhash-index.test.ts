import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MinHashIndex } from '../../src/curate/minhash-index.js';
import { fmix32, hashString, jaccard, shingleSet } from '../../src/curate/shingles.js';
import { rougeTokens } from '../../src/curate/rouge-tokenize.js';
import { candidateProbability, lshBands } from '../../src/curate/lsh-bands.js';
import { seededRandom } from '../../src/random.js';

/**
 * Planted near-copies: each base text is 20 distinct words; a copy replaces m of them with fresh words, so with
 * word 1-shingles its Jaccard with the base is exactly (20 − m)/(20 + m): 0.82, 0.74, 0.67, 0.60, 0.54 for
 * m = 2…6, straddling a threshold of 0.6.
 */
function plantedSet(bases: number, seed: number): string[] {
  const rnd = seededRandom(seed);
  let fresh = 0;
  const word = () => `w${(fresh++).toString(36)}`;
  const out: string[] = [];
  for (let b = 0; b < bases; b++) {
    const base = Array.from({ length: 20 }, word);
    out.push(base.join(' '));
    for (let m = 2; m <= 6; m++) {
      const copy = [...base];
      const positions = new Set<number>();
      while (positions.size < m) positions.add(Math.floor(rnd() * 20));
      for (const p of positions) copy[p] = word();
      out.push(copy.join(' '));
    }
  }
  // Interleave groups so a copy rarely follows its base directly.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The exact decision MinHash must reproduce: in order, a duplicate iff Jaccard ≥ t with an earlier kept item. */
function exactDuplicates(texts: string[], t: number, ngram: number): boolean[] {
  const kept: Uint32Array[] = [];
  return texts.map((text) => {
    const s = shingleSet(text, ngram);
    if (kept.some((k) => jaccard(s, k) >= t)) return true;
    kept.push(s);
    return false;
  });
}

function minhashDuplicates(texts: string[], t: number, ngram: number, seed: number): Array<{ dup: boolean; of: string | null; score: number | null }> {
  const index = new MinHashIndex({ threshold: t, ngram, seed, topSimilar: 3, similarMin: t });
  return texts.map((text, i) => {
    const c = index.checkAndAdd(String(i), text, '');
    return { dup: c.duplicateOf !== null, of: c.duplicateOf?.id ?? null, score: c.duplicateOf?.score ?? null };
  });
}

test('MinHash-LSH finds the planted near-copies exact Jaccard finds, with recall and precision ≥ 0.99', () => {
  const texts = plantedSet(400, 3);
  const truth = exactDuplicates(texts, 0.6, 1);
  const found = minhashDuplicates(texts, 0.6, 1, 1);
  let both = 0;
  let onlyTruth = 0;
  let onlyFound = 0;
  truth.forEach((t, i) => {
    if (t && found[i]!.dup) both++;
    else if (t) onlyTruth++;
    else if (found[i]!.dup) onlyFound++;
  });
  const recall = both / (both + onlyTruth);
  const precision = both / (both + onlyFound);
  assert.ok(both > 1000, `expected many planted duplicates, got ${both}`);
  assert.ok(recall >= 0.99, `recall ${recall}`);
  assert.ok(precision >= 0.99, `precision ${precision}`);
  // Copies with m = 6 (Jaccard 0.54 with their base) are below the threshold and some survive.
  assert.ok(truth.filter((t) => !t).length > 400);
});

test('every MinHash removal names the kept item it duplicates and their exact Jaccard', () => {
  const texts = plantedSet(50, 9);
  const found = minhashDuplicates(texts, 0.6, 1, 1);
  for (const [i, f] of found.entries()) {
    if (!f.dup) continue;
    const j = Number(f.of);
    assert.ok(!found[j]!.dup, `item ${i} names ${j}, which is itself a duplicate`);
    assert.equal(f.score, jaccard(shingleSet(texts[i]!, 1), shingleSet(texts[j]!, 1)));
    assert.ok(f.score! >= 0.6);
  }
});

test('MinHash results are the same for the same seed', () => {
  const texts = plantedSet(100, 5);
  assert.deepEqual(minhashDuplicates(texts, 0.6, 1, 7), minhashDuplicates(texts, 0.6, 1, 7));
});

test('bands and rows reach the stated recall at the threshold', () => {
  for (const t of [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) {
    const b = lshBands(t);
    assert.ok(candidateProbability(t, b.bands, b.rows) >= 0.995, `threshold ${t}: ${JSON.stringify(b)}`);
    assert.ok(b.bands * b.rows <= 256);
  }
});

test('Chinese text is shingled by characters, so a one-character change keeps a high Jaccard', () => {
  const a = shingleSet('请写一首关于秋天的短诗，描述落叶和微风。', 2);
  const b = shingleSet('请写一首关于秋天的短诗，描写落叶和微风。', 2);
  const c = shingleSet('解释光合作用的基本过程以及它的重要性。', 2);
  assert.ok(jaccard(a, b) > 0.7, String(jaccard(a, b)));
  assert.equal(jaccard(a, c), 0);
});

test('shingles of ASCII text read without tokens equal those of the ROUGE tokens', () => {
  const viaTokens = (text: string, k: number) => {
    const h = rougeTokens(text).map(hashString);
    if (h.length === 0) return [];
    const w = Math.min(k, h.length);
    const out = new Set<number>();
    for (let i = 0; i + w <= h.length; i++) {
      let x = 0x9e3779b9 ^ w;
      for (let j = 0; j < w; j++) x = fmix32(Math.imul(x ^ h[i + j]!, 0x01000193));
      out.add(x);
    }
    return [...out].sort((a, b) => a - b);
  };
  for (const text of ["Don't stop: 3.14 IS pi!", 'x', '  ', 'A-b_c  D9e ', 'Zz Aa zz', 'café über', 'KELVIN \u212A sign', '写一首 poem 关于大海']) {
    for (const k of [1, 2, 3]) assert.deepEqual([...shingleSet(text, k)], viaTokens(text, k), `${text} k=${k}`);
  }
});
