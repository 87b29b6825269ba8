import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveKlController, gae, groupAdvantages, meanEntropy, ppoLoss, tokenRewards, whiten, type PpoTokenBatch } from '../../../src/train/methods/ppo-math.js';

const close = (a: number, b: number, tol = 1e-9, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} ≠ ${b}`);

// Every expected figure below was worked out by hand (the arithmetic is in the comments).
test('per-token rewards are −β·KL with the score added at the last token', () => {
  const { rewards, kl } = tokenRewards({ logprobs: [-1, -2], refLogprobs: [-1.5, -1], score: 2 }, 0.1);
  close(kl[0]!, 0.5, 1e-12, 'kl0');
  close(kl[1]!, -1, 1e-12, 'kl1');
  close(rewards[0]!, -0.05, 1e-12, 'r0'); // −0.1·0.5
  close(rewards[1]!, 2.1, 1e-12, 'r1'); //   −0.1·(−1) + 2
});

test('GAE on a fixed rollout equals the hand-worked advantages and returns', () => {
  const { advantages, returns } = gae([-0.05, 2.1], [0.5, 1.0], 1, 0.95);
  // t=1: δ = 2.1 + 0 − 1.0 = 1.1 → A = 1.1, R = 2.1;  t=0: δ = −0.05 + 1.0 − 0.5 = 0.45 → A = 0.45 + 0.95·1.1 = 1.495
  close(advantages[1]!, 1.1, 1e-12, 'A1');
  close(advantages[0]!, 1.495, 1e-12, 'A0');
  close(returns[0]!, 1.995, 1e-12, 'R0');
  close(returns[1]!, 2.1, 1e-12, 'R1');
  assert.throws(() => gae([1], [1, 2], 1, 1), /1 rewards but 2 values/);
});

test('advantages are whitened over every token of the batch with the unbiased variance', () => {
  const [a, b] = whiten([Float64Array.of(1, 2), Float64Array.of(3)]);
  // mean 2, variance (1 + 0 + 1) / 2 = 1
  close(a![0]!, -1, 1e-6);
  close(a![1]!, 0, 1e-6);
  close(b![0]!, 1, 1e-6);
});

const batch: PpoTokenBatch = {
  newLogprobs: [-0.5, -1],
  oldLogprobs: [-1, -1],
  advantages: [1, -2],
  values: [1.0, 0],
  oldValues: [0.5, 0],
  returns: [2.0, 0.1],
};
const settings = { clip: 0.2, clipValue: 0.2, valueCoef: 0.1 };

test('the clipped objective, value loss, clip fractions and approximate KL equal a hand-worked reference', () => {
  const l = ppoLoss(batch, settings);
  // token 0: ratio e^0.5 = 1.6487, A = 1: −1.6487 vs clipped −1.2 → −1.2 (clipped). token 1: ratio 1, A = −2: 2 vs 2 → 2.
  close(l.policyLoss, (-1.2 + 2) / 2, 1e-12, 'policy');
  close(l.clipFrac, 0.5, 0, 'clipfrac');
  // values: token 0 v = 1 (old 0.5 ± 0.2 → 0.7), return 2: (1−2)² = 1 vs (0.7−2)² = 1.69 → 1.69; token 1: 0.01 vs 0.01
  close(l.valueLoss, (0.5 * (1.69 + 0.01)) / 2, 1e-12, 'value');
  close(l.valueClipFrac, 0.5, 0, 'vclipfrac');
  close(l.loss, 0.4 + 0.1 * 0.425, 1e-12, 'total');
  close(l.approxKl, (0.5 * 0.25) / 2, 1e-12, 'approxkl');
  // clamped terms pass no gradient; the others: −A·ratio/n and vf_coef·(v − R)/n
  assert.equal(l.dLogprob[0], 0);
  close(l.dLogprob[1]!, 1, 1e-12, 'dlogp1');
  assert.equal(l.dValue[0], 0);
  close(l.dValue[1]!, (0.1 * (0 - 0.1)) / 2, 1e-12, 'dv1');
});

test('the loss gradients match finite differences away from the clip boundaries', () => {
  const b = { newLogprobs: [-0.9, -1.3, -0.2], oldLogprobs: [-1, -1, -1], advantages: [0.7, -0.4, 1.5], values: [0.3, 0.9, 0.1], oldValues: [0.35, 0.5, 0.0], returns: [1.1, 0.2, 0.15] };
  const l = ppoLoss(b, settings);
  const h = 1e-6;
  for (let t = 0; t < 3; t++) {
    const up = { ...b, newLogprobs: b.newLogprobs.map((v, i) => (i === t ? v + h : v)) };
    const dn = { ...b, newLogprobs: b.newLogprobs.map((v, i) => (i === t ? v - h : v)) };
    close(l.dLogprob[t]!, (ppoLoss(up, settings).loss - ppoLoss(dn, settings).loss) / (2 * h), 1e-7, `dlogp${t}`);
    const vu = { ...b, values: b.values.map((v, i) => (i === t ? v + h : v)) };
    const vd = { ...b, values: b.values.map((v, i) => (i === t ? v - h : v)) };
    close(l.dValue[t]!, (ppoLoss(vu, settings).loss - ppoLoss(vd, settings).loss) / (2 * h), 1e-7, `dv${t}`);
  }
});

test('the adaptive KL coefficient moves toward the target by at most 20% of steps/horizon', () => {
  const c = new AdaptiveKlController(0.1, 6, 10000);
  close(c.update(12, 256), 0.1 * (1 + (0.2 * 256) / 10000), 1e-15, 'KL above target');
  const d = new AdaptiveKlController(0.1, 6, 10000);
  close(d.update(5.4, 100), 0.1 * (1 + (-0.1 * 100) / 10000), 1e-15, 'KL below target');
  assert.throws(() => new AdaptiveKlController(0.1, 0, 10), /target KL must be positive/);
});

test('RLOO and GRPO group baselines', () => {
  assert.deepEqual(groupAdvantages([1, 2, 3], 'rloo'), [-1.5, 0, 1.5]);
  const g = groupAdvantages([1, 2, 3], 'grpo'); // mean 2, unbiased std 1
  close(g[0]!, -1 / 1.0001, 1e-12);
  close(g[1]!, 0, 1e-12);
  close(g[2]!, 1 / 1.0001, 1e-12);
  assert.throws(() => groupAdvantages([1], 'rloo'), /at least 2 responses/);
});

test('mean entropy of the sampling distributions', () => {
  close(meanEntropy([[Math.log(0.5), Math.log(0.5)], [0, -Infinity]]), Math.log(2) / 2, 1e-12);
});
