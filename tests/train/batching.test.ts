import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketLength, padToBuckets, planEpoch, splitTrainVal, totalSteps } from '../../src/train/batching.js';
import { Rng } from '../../src/train/rng.js';

test('an epoch covers every example once, in steps of batchSize cut into micro-batches', () => {
  const lengths = Array.from({ length: 23 }, (_, i) => 5 + ((i * 7) % 13));
  const steps = planEpoch(lengths, { epoch: 0, seed: 1, batchSize: 8, microBatchSize: 3 });
  assert.equal(steps.length, 3);
  assert.deepEqual(steps.map((s) => s.flat().length), [8, 8, 7]);
  assert.deepEqual(steps[0]!.map((m) => m.length), [3, 3, 2]);
  assert.deepEqual(steps.flat(2).sort((a, b) => a - b), lengths.map((_, i) => i));
});

test('micro-batches are grouped by length inside each step', () => {
  const lengths = Array.from({ length: 64 }, (_, i) => 1 + ((i * 37) % 61));
  for (const step of planEpoch(lengths, { epoch: 2, seed: 7, batchSize: 32, microBatchSize: 4 })) {
    const flat = step.flat().map((i) => lengths[i]!);
    assert.deepEqual(flat, [...flat].sort((a, b) => b - a));
  }
});

test('epoch order depends only on (seed, epoch)', () => {
  const lengths = Array.from({ length: 50 }, (_, i) => i % 9);
  const o = { seed: 3, batchSize: 10, microBatchSize: 2 };
  assert.deepEqual(planEpoch(lengths, { ...o, epoch: 1 }), planEpoch(lengths, { ...o, epoch: 1 }));
  assert.notDeepEqual(planEpoch(lengths, { ...o, epoch: 1 }), planEpoch(lengths, { ...o, epoch: 2 }));
});

test('the validation split is fixed by the seed and disjoint from training', () => {
  const a = splitTrainVal(100, 10, 42);
  const b = splitTrainVal(100, 10, 42);
  assert.deepEqual(a, b);
  assert.equal(a.val.length, 10);
  assert.equal(a.train.length, 90);
  assert.equal(new Set([...a.train, ...a.val]).size, 100);
  assert.notDeepEqual(splitTrainVal(100, 10, 43).val, a.val);
});

test('total steps honour epochs; --max-steps sets the total, overriding epochs either way (as Hugging Face)', () => {
  assert.equal(totalSteps(1000, { epochs: 3, batchSize: 128 }), 24);
  assert.equal(totalSteps(1000, { epochs: 3, batchSize: 128, maxSteps: 5 }), 5);
  assert.equal(totalSteps(100, { epochs: 1, batchSize: 10, maxSteps: 25 }), 25);
  assert.equal(totalSteps(10, { epochs: 1, batchSize: 128 }), 1);
});

test('the RNG resumes from its saved state with the same numbers', () => {
  const r = new Rng(5);
  r.next();
  const saved = r.state();
  const expected = [r.next(), r.next(), r.next()];
  const resumed = new Rng(saved);
  assert.deepEqual([resumed.next(), resumed.next(), resumed.next()], expected);
  const u = Array.from({ length: 2000 }, () => new Rng(9).next());
  assert.equal(new Set(u).size, 1);
  const mean = Array.from({ length: 20000 }, ((g) => () => g.next())(new Rng(1))).reduce((s, x) => s + x, 0) / 20000;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
});

test('padded lengths come from a few buckets, never below the length nor above the cap', () => {
  const buckets = new Set<number>();
  for (let n = 1; n <= 1024; n++) {
    const b = bucketLength(n, 1000);
    assert.ok(b >= n && (b <= 1000 || b === n), `${n} → ${b}`);
    // Powers of two up to 128, then steps of at most ×1.5.
    if (n > 16) assert.ok(b < (n > 128 ? 1.5 : 2) * n, `${n} → ${b} pads too much`);
    buckets.add(b);
  }
  // 16, 32, 64, 128, 192, 256, 384, 512, 768, the cap 1000, and the lengths above the cap (1001…1024).
  assert.deepEqual([...buckets].filter((b) => b <= 1000), [16, 32, 64, 128, 192, 256, 384, 512, 768, 1000]);
  const padded = padToBuckets({ inputIds: [[5, 6, 7], Array.from({ length: 20 }, () => 9)], labels: [[-100, 6, 7], Array.from({ length: 20 }, () => 9)] }, 0);
  assert.deepEqual(padded.inputIds.map((r) => r.length), [16, 32]);
  assert.deepEqual(padded.inputIds[0]!.slice(3), new Array(13).fill(0));
  assert.deepEqual(padded.labels[0], [-100, 6, 7, ...new Array(13).fill(-100)]);
});
