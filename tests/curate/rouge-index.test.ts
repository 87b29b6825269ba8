import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RougeIndex } from '../../src/curate/rouge-index.js';
import { rougeTokens } from '../../src/curate/rouge-tokenize.js';
import { seededRandom } from '../../src/random.js';
import { syntheticInstructions } from '../helpers/synthetic-instructions.js';

/**
 * The reference: Alpaca's loop. Every item against every earlier kept item, LCS by the textbook table and F1 as
 * rouge_score computes it (precision = lcs/len(prediction), recall = lcs/len(target), 2PR/(P+R)), duplicate when
 * the maximum is > threshold. Pairwise scores are computed once per stream and reused for every threshold.
 */
class PairwiseScores {
  private readonly f: Float64Array;
  constructor(readonly texts: string[]) {
    const vocab = new Map<string, number>();
    const toks = texts.map((t) => Int32Array.from(rougeTokens(t), (w) => vocab.get(w) ?? (vocab.set(w, vocab.size), vocab.size - 1)));
    const n = texts.length;
    this.f = new Float64Array((n * (n - 1)) / 2);
    let prev = new Int32Array(256);
    let cur = new Int32Array(256);
    for (let j = 1; j < n; j++) {
      const target = toks[j]!;
      for (let i = 0; i < j; i++) {
        const pred = toks[i]!;
        if (pred.length + 1 > prev.length) [prev, cur] = [new Int32Array(pred.length + 1), new Int32Array(pred.length + 1)];
        prev.fill(0);
        for (let a = 0; a < target.length; a++) {
          cur[0] = 0;
          for (let b = 0; b < pred.length; b++) cur[b + 1] = target[a] === pred[b] ? prev[b]! + 1 : Math.max(prev[b + 1]!, cur[b]!);
          [prev, cur] = [cur, prev];
        }
        const lcs = target.length && pred.length ? prev[pred.length]! : 0;
        let score = 0;
        if (target.length && pred.length) {
          const precision = lcs / pred.length;
          const recall = lcs / target.length;
          score = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
        }
        this.f[(j * (j - 1)) / 2 + i] = score;
      }
    }
  }
  score(i: number, j: number): number {
    return i < j ? this.f[(j * (j - 1)) / 2 + i]! : this.f[(i * (i - 1)) / 2 + j]!;
  }
}

interface Decision {
  duplicateOf: { id: string; score: number } | null;
  similar: Array<{ id: string; score: number }>;
}

/** Brute-force decisions for items seeds.length.. (seeds are indices 0..seeds-1 and always added). */
function bruteForce(scores: PairwiseScores, seeds: number, threshold: number, topSimilar: number, similarMin: number): Decision[] {
  const kept: number[] = [];
  for (let i = 0; i < seeds; i++) kept.push(i);
  const out: Decision[] = [];
  for (let j = seeds; j < scores.texts.length; j++) {
    const scored = kept.map((i) => ({ i, score: scores.score(i, j) }));
    const above = scored.filter((s) => s.score > threshold).sort((a, b) => b.score - a.score || a.i - b.i);
    const similar = scored
      .filter((s) => s.score > 0 && s.score >= similarMin)
      .sort((a, b) => b.score - a.score || a.i - b.i)
      .slice(0, topSimilar)
      .map((s) => ({ id: String(s.i), score: s.score }));
    const dup = above[0];
    out.push({ duplicateOf: dup ? { id: String(dup.i), score: dup.score } : null, similar });
    if (!dup) kept.push(j);
  }
  return out;
}

function fast(texts: string[], seeds: number, threshold: number, topSimilar: number, similarMin: number): Decision[] {
  const index = new RougeIndex({ threshold, topSimilar, similarMin });
  for (let i = 0; i < seeds; i++) index.add(String(i), texts[i]!);
  const out: Decision[] = [];
  for (let j = seeds; j < texts.length; j++) {
    const c = index.checkAndAdd(String(j), texts[j]!);
    out.push({ duplicateOf: c.duplicateOf, similar: c.similar });
  }
  return out;
}

function assertSame(texts: string[], seeds: number, scores: PairwiseScores, threshold: number, topSimilar: number, similarMin: number): number {
  const expected = bruteForce(scores, seeds, threshold, topSimilar, similarMin);
  const actual = fast(texts, seeds, threshold, topSimilar, similarMin);
  for (let k = 0; k < expected.length; k++) {
    assert.deepEqual(actual[k], expected[k], `threshold ${threshold}, item ${seeds + k}: "${texts[seeds + k]}"`);
  }
  return expected.filter((d) => d.duplicateOf !== null).length;
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

/** Instructions built to break shortcuts: few distinct words (large multiset overlaps, many repeats), reorderings
 *  of earlier items (overlap passes, LCS fails), long items (multi-word bit vectors), empty and punctuation-only
 *  items, CJK and mixed text, and pairs sitting exactly on float boundaries of F1. */
function adversarialInstructions(count: number, seed: number): string[] {
  const rnd = seededRandom(seed);
  const small = ['the', 'a', 'of', 'write', 'list', 'poem', 'story', 'cat', 'dog', 'x'];
  const han = '写一首关于春天的诗请解释什么是机器学习列出三个例子'.split('');
  const out: string[] = [];
  const boundary = (): string => {
    // LCS 7 between 8 and 12 tokens: F1 = 0.7000000000000001 under rouge_score arithmetic (exactly 0.7 in reals).
    const base = Array.from({ length: 8 }, (_, i) => `w${i}`);
    const other = [...base.slice(0, 7), 'y1', 'y2', 'y3', 'y4', 'y5'];
    return (rnd() < 0.5 ? base : other).join(' ');
  };
  for (let i = 0; i < count; i++) {
    const r = rnd();
    if (r < 0.3) out.push(Array.from({ length: 1 + Math.floor(rnd() * 14) }, () => pick(rnd, small)).join(rnd() < 0.5 ? ' ' : ', '));
    else if (r < 0.4 && out.length) {
      const w = pick(rnd, out).split(' ');
      for (let k = w.length - 1; k > 0; k--) {
        const s = Math.floor(rnd() * (k + 1));
        [w[k], w[s]] = [w[s]!, w[k]!];
      }
      out.push(w.join(' '));
    } else if (r < 0.47) out.push(Array.from({ length: 30 + Math.floor(rnd() * 45) }, () => pick(rnd, small.slice(0, 6 + Math.floor(rnd() * 4)))).join(' '));
    else if (r < 0.52) out.push(pick(rnd, ['', '   ', '?!', '……', '###', 'é à ü']));
    else if (r < 0.7) out.push(Array.from({ length: 3 + Math.floor(rnd() * 14) }, () => pick(rnd, han)).join(''));
    else if (r < 0.8) out.push(`${pick(rnd, small)} ${Array.from({ length: 2 + Math.floor(rnd() * 8) }, () => pick(rnd, han)).join('')} ${pick(rnd, small)}`);
    else if (r < 0.87) out.push(boundary());
    else if (r < 0.95 && out.length) out.push(pick(rnd, out).toUpperCase());
    else out.push(`${pick(rnd, small)} ${Math.floor(rnd() * 5)} ${pick(rnd, small)} ${pick(rnd, small)}`);
  }
  return out;
}

const thresholds = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9];

test('keeps exactly the items brute-force pairwise ROUGE-L keeps: realistic instructions, thresholds 0.5–0.9', () => {
  const seeds = syntheticInstructions(60, { seed: 11, nearDuplicateShare: 0 });
  const texts = [...seeds, ...syntheticInstructions(2400, { seed: 12, nearDuplicateShare: 0.08 })];
  const scores = new PairwiseScores(texts);
  for (const t of thresholds) {
    const dups = assertSame(texts, seeds.length, scores, t, 3, Math.max(0, t - 0.15));
    assert.ok(dups > 50, `threshold ${t}: the stream must contain duplicates to be a test (${dups})`);
  }
});

test('keeps exactly the items brute force keeps on adversarial instructions (repeats, reorderings, long, empty, CJK, float boundaries)', () => {
  const texts = adversarialInstructions(2200, 5);
  const scores = new PairwiseScores(texts);
  for (const t of thresholds) assertSame(texts, 20, scores, t, 4, t);
  // The top-similar search below the threshold must be exact too, also with no seeds at all.
  assertSame(texts, 0, scores, 0.7, 5, 0.3);
  assertSame(texts, 0, scores, 0.9, 2, 0);
});

test('a pair on the float boundary is a duplicate at 0.7 exactly when rouge_score says so', () => {
  const index = new RougeIndex({ threshold: 0.7, topSimilar: 0, similarMin: 1 });
  index.add('seed:1', 'w0 w1 w2 w3 w4 w5 w6 w7');
  const c = index.checkAndAdd('2', 'w0 w1 w2 w3 w4 w5 w6 y1 y2 y3 y4 y5');
  assert.deepEqual(c.duplicateOf, { id: 'seed:1', score: 0.7000000000000001 });
  assert.equal(c.kind, 'rouge');
  assert.equal(index.size, 1);
});

test('Chinese instructions are deduplicated (rouge_score alone would see no tokens)', () => {
  const index = new RougeIndex({ threshold: 0.7, topSimilar: 3, similarMin: 0.5 });
  assert.equal(index.checkAndAdd('1', '写一首关于春天的诗。').duplicateOf, null);
  const c = index.checkAndAdd('2', '请写一首关于春天的诗');
  assert.equal(c.duplicateOf?.id, '1');
  assert.ok(c.duplicateOf!.score > 0.9);
  assert.equal(index.checkAndAdd('3', '解释什么是机器学习').duplicateOf, null);
});

test('records the most similar earlier items for kept items too', () => {
  const index = new RougeIndex({ threshold: 0.7, topSimilar: 2, similarMin: 0.3 });
  index.add('seed:a', 'Write a short poem about the sea.');
  index.add('seed:b', 'Write a long essay about the mountains.');
  const c = index.checkAndAdd('1', 'Write a short story about a forest at night.');
  assert.equal(c.duplicateOf, null);
  assert.deepEqual(c.similar.map((s) => s.id), ['seed:a', 'seed:b']);
  assert.deepEqual(c.similar.map((s) => s.score), [0.5, 0.375]);
});

test('rejects nonsensical options with a TypeError naming the option', () => {
  assert.throws(() => new RougeIndex({ threshold: 1.5, topSimilar: 3, similarMin: 0.5 }), /threshold/);
  assert.throws(() => new RougeIndex({ threshold: 0.7, topSimilar: -1, similarMin: 0.5 }), /topSimilar/);
});
