import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateDistribution, sampleToken, seededRandom } from '../../src/model/sampling.js';

const logits = [0.5, 0.3, 0.15, 0.05].map(Math.log);
const close = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-9);

test('temperature 0 is greedy', () => {
  assert.deepEqual(candidateDistribution([0.1, 2, -1, 1.9], { temperature: 0 }), { ids: [1], probs: [1] });
});

test('top-p keeps the smallest prefix reaching p (the crossing token included) and renormalises', () => {
  const d = candidateDistribution(logits, { temperature: 1, topP: 0.75 });
  assert.deepEqual(d.ids, [0, 1]);
  assert.ok(close(d.probs, [0.625, 0.375]), String(d.probs));
  assert.deepEqual(candidateDistribution(logits, { temperature: 1, topP: 0.4 }).ids, [0]);
});

test('top-k then top-p work on the top-k renormalised distribution, as transformers chains its warpers', () => {
  const d = candidateDistribution(logits, { temperature: 1, topK: 3, topP: 0.9 });
  assert.deepEqual(d.ids, [0, 1, 2]);
  assert.ok(close(d.probs, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95]));
  assert.deepEqual(candidateDistribution(logits, { temperature: 1, topK: 2 }).ids, [0, 1]);
});

test('temperature sharpens: p ∝ p^(1/T)', () => {
  const d = candidateDistribution(logits, { temperature: 0.5 });
  const z = 0.25 + 0.09 + 0.0225 + 0.0025;
  assert.ok(close(d.probs, [0.25 / z, 0.09 / z, 0.0225 / z, 0.0025 / z]));
});

test('top-p over a flat 1,000-token vocabulary keeps half of it (beyond the 256-candidate fast path)', () => {
  const flat = Array.from({ length: 1000 }, (_, i) => (i % 7) * 1e-9);
  const d = candidateDistribution(flat, { temperature: 1, topP: 0.5 });
  assert.ok(d.ids.length >= 499 && d.ids.length <= 501, `${d.ids.length} kept`);
});

test('seeded sampling draws tokens with the candidate probabilities', () => {
  const random = seededRandom(42);
  const counts = [0, 0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 1 }, random)]! += 1;
  [0.5, 0.3, 0.15, 0.05].forEach((p, i) => assert.ok(Math.abs(counts[i]! / n - p) < 0.015, `token ${i}: ${counts[i]! / n} vs ${p}`));
  const a = seededRandom(7);
  const b = seededRandom(7);
  assert.deepEqual(Array.from({ length: 5 }, () => a()), Array.from({ length: 5 }, () => b()));
});
