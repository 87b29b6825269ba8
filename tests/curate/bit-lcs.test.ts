import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LcsPattern, lcsTable, popcount, rougeLF1 } from '../../src/curate/bit-lcs.js';
import { seededRandom } from '../../src/random.js';

test('bit-parallel LCS equals the dynamic programme for patterns of 1 to 150 tokens (one and many words)', () => {
  const rnd = seededRandom(3);
  const p = new LcsPattern();
  for (let trial = 0; trial < 600; trial++) {
    const alphabet = 1 + Math.floor(rnd() * 12);
    const m = 1 + Math.floor(rnd() * (trial % 3 === 0 ? 150 : 40));
    const n = Math.floor(rnd() * 100);
    const a = Array.from({ length: m }, () => Math.floor(rnd() * alphabet));
    const b = Array.from({ length: n }, () => Math.floor(rnd() * alphabet) + (rnd() < 0.1 ? 50 : 0));
    p.set(a, 64);
    assert.equal(p.lcs(b), lcsTable(a, b), `m=${m} n=${n}`);
    // The same pattern object is re-targeted; a sub-range of the text is honoured.
    const from = Math.floor(rnd() * (n + 1));
    assert.equal(p.lcs(b, from, n), lcsTable(a, b.slice(from)));
  }
});

test('an all-matching 32-token pattern (the word-size edge) counts every position', () => {
  const p = new LcsPattern();
  const a = Array.from({ length: 32 }, (_, i) => i);
  p.set(a, 40);
  assert.equal(p.lcs(a), 32);
  assert.equal(p.lcs([...a].reverse()), 1);
});

test('popcount counts bits of negative 32-bit values', () => {
  assert.equal(popcount(-1), 32);
  assert.equal(popcount(0x80000001), 2);
});

test('ROUGE-L F1 uses rouge_score arithmetic, including its rounding at the 0.7 boundary', () => {
  assert.equal(rougeLF1(0, 3, 4), 0);
  assert.equal(rougeLF1(3, 0, 4), 0);
  assert.equal(rougeLF1(4, 4, 4), 1);
  // LCS 7 between 8 and 12 tokens: 2·l/(m+n) is exactly 0.7, but rouge_score's 2·P·R/(P+R) rounds to
  // 0.7000000000000001 in doubles, so Alpaca's `> 0.7` calls the pair a duplicate, and so must we.
  assert.equal(rougeLF1(7, 8, 12), 0.7000000000000001);
  assert.equal(rougeLF1(7, 12, 8), 0.7000000000000001);
  assert.equal(rougeLF1(7, 10, 10), 0.7);
});
