import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW } from '../../src/train/adamw.js';
import { clipGlobalNorm } from '../../src/train/clip.js';
import { learningRateAt } from '../../src/train/schedule.js';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b} (tol ${tol})`);

test('AdamW matches two updates computed by hand (decoupled decay, bias correction, eps 1e-8)', () => {
  // lr 0.1, wd 0.01, betas (0.9, 0.999). Step 1, g = 0.5:
  //   p ← 1·(1 − 0.1·0.01) = 0.999;  m = 0.05, v = 0.00025;  m̂ = 0.5, v̂ = 0.25
  //   p ← 0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899000002
  // Step 2, g = −0.25:
  //   p ← 0.899000002·0.999 = 0.898101002;  m = 0.045 − 0.025 = 0.02;  v = 0.00024975 + 0.0000625 = 0.00031225
  //   m̂ = 0.02/0.19 = 0.1052631579;  √v̂ = √(0.00031225/0.001999) = 0.3952253836
  //   p ← 0.898101002 − 0.1·0.1052631579/0.3952253836 = 0.8714672987
  const opt = new AdamW([1], { weightDecay: 0.01 });
  const p = new Float32Array([1]);
  opt.step([p], [new Float32Array([0.5])], 0.1);
  close(p[0]!, 0.899000002);
  opt.step([p], [new Float32Array([-0.25])], 0.1);
  close(p[0]!, 0.8714672987);
  const s = opt.getState();
  assert.equal(s.step, 2);
  close(s.m[0]![0]!, 0.02);
  close(s.v[0]![0]!, 0.00031225, 1e-10);
});

test('AdamW weight decay is decoupled: a zero gradient only shrinks the weight by lr·wd', () => {
  const opt = new AdamW([2], { weightDecay: 0.1 });
  const p = new Float32Array([2, -4]);
  opt.step([p], [new Float32Array([0, 0])], 0.5);
  // Coupled L2 (Adam with g + wd·p) would move each weight by ≈ lr = 0.5; AdamW moves it by lr·wd·p only.
  close(p[0]!, 2 * (1 - 0.05));
  close(p[1]!, -4 * (1 - 0.05));
});

test('AdamW keeps one state slot per parameter, in order, and rejects a mismatched list', () => {
  const opt = new AdamW([1, 3]);
  const a = new Float32Array([0]);
  const b = new Float32Array([0, 0, 0]);
  opt.step([a, b], [new Float32Array([1]), new Float32Array([0, -2, 0])], 0.01);
  close(a[0]!, -0.01);
  close(b[1]!, 0.01);
  close(b[0]!, 0);
  assert.throws(() => opt.step([b, a], [new Float32Array(3), new Float32Array(1)], 0.01), /parameter 0 has 3 values/);
  assert.throws(() => opt.step([a], [new Float32Array(1)], 0.01), /expected 2 parameters/);
});

test('global-norm clipping scales all gradients together by maxNorm / (norm + 1e-6)', () => {
  const g1 = new Float32Array([3, 4]);
  const g2 = new Float32Array([12]);
  const norm = clipGlobalNorm([g1, g2], 1); // √(9 + 16 + 144) = 13
  close(norm, 13);
  const c = 1 / (13 + 1e-6);
  close(g1[0]!, 3 * c);
  close(g1[1]!, 4 * c);
  close(g2[0]!, 12 * c);
  const total = Math.hypot(g1[0]!, g1[1]!, g2[0]!);
  close(total, 1, 1e-6);
});

test('global-norm clipping leaves gradients under the limit untouched and reports their norm', () => {
  const g = new Float32Array([0.3, 0.4]);
  close(clipGlobalNorm([g], 1), 0.5);
  assert.deepEqual([...g], [...new Float32Array([0.3, 0.4])]);
});

test('cosine, linear and constant schedules with warmup give the Hugging Face values', () => {
  const o = { lr: 1, warmupSteps: 10, totalSteps: 110 };
  close(learningRateAt(0, { ...o, schedule: 'cosine' }), 0);
  close(learningRateAt(5, { ...o, schedule: 'cosine' }), 0.5);
  close(learningRateAt(10, { ...o, schedule: 'cosine' }), 1);
  close(learningRateAt(60, { ...o, schedule: 'cosine' }), 0.5); // half-way: ½(1 + cos(π/2))
  close(learningRateAt(35, { ...o, schedule: 'cosine' }), 0.5 * (1 + Math.cos(Math.PI / 4)));
  close(learningRateAt(110, { ...o, schedule: 'cosine' }), 0);
  close(learningRateAt(60, { ...o, schedule: 'linear' }), 0.5);
  close(learningRateAt(85, { ...o, schedule: 'linear' }), 0.25);
  close(learningRateAt(5, { ...o, schedule: 'constant' }), 0.5);
  close(learningRateAt(100, { ...o, schedule: 'constant' }), 1);
  close(learningRateAt(0, { lr: 3e-4, warmupSteps: 0, totalSteps: 3, schedule: 'cosine' }), 3e-4);
});
