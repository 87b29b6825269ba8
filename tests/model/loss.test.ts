import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel, type TargetModule } from '../../src/model/load.js';
import type { LoraHook } from '../../src/model/llama.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { IGNORE_INDEX, lossTuning, perExampleNll, responseNllSum } from '../../src/model/loss.js';
import { attention } from '../../src/model/attention.js';
import { writeTinyModel, randomNormal, type TinyModelInfo } from '../helpers/tiny-model.js';
import { referenceLogits, referenceNll } from './reference.js';

let info: TinyModelInfo;
let model: LlamaModel;
let trainModel: LlamaModel;
const samples = [
  { instruction: 'Name the capital of France.', input: '', output: 'Paris is the capital.' },
  { instruction: 'Add the numbers.', input: '2 and 3', output: '5' },
  { instruction: 'Say hi', input: '', output: 'Hello there, how are you doing today?' },
];

before(async () => {
  await selectBackend('wasm');
  info = await writeTinyModel(join(mkdtempSync(join(tmpdir(), 'forge-loss-')), 'm'), { arch: 'llama', heads: 4, kvHeads: 2, seed: 7 });
  model = await loadModel(info.dir);
  trainModel = await loadModel(info.dir, { training: true });
});

function batchOf(m: LlamaModel) {
  const enc = samples.map((s) => encodeExample(m.tokenizer, s, { cutoffLen: 256 }));
  return { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) };
}

function referenceSum(ids: number[], labels: number[]): { sum: number; tokens: number } {
  const logits = referenceLogits(info, ids);
  let sum = 0;
  let tokens = 0;
  for (let t = 1; t < ids.length; t++) {
    if (labels[t] === IGNORE_INDEX) continue;
    sum += referenceNll(logits[t - 1]!, labels[t]!);
    tokens++;
  }
  return { sum, tokens };
}

test('encodeExample masks the prompt, prepends BOS and appends EOS', () => {
  const e = encodeExample(model.tokenizer, samples[0]!, { cutoffLen: 256 });
  assert.equal(e.inputIds[0], info.bosId);
  assert.equal(e.inputIds.at(-1), info.eosId);
  assert.ok(e.labels.slice(0, e.promptLength).every((l) => l === IGNORE_INDEX));
  assert.deepEqual(e.labels.slice(e.promptLength), e.inputIds.slice(e.promptLength));
  assert.equal(model.tokenizer.decode(e.inputIds.slice(e.promptLength)), 'Paris is the capital.');
  const cut = encodeExample(model.tokenizer, samples[0]!, { cutoffLen: 10 });
  assert.equal(cut.inputIds.length, 10);
  assert.notEqual(cut.inputIds.at(-1), info.eosId);
});

test('padded batch loss equals the float64 reference summed over response tokens', async () => {
  const batch = batchOf(model);
  const loss = responseNllSum(model, batch);
  const ours = loss.dataSync()[0]!;
  loss.dispose();
  const ref = batch.inputIds.reduce((a, ids, b) => a + referenceSum(ids, batch.labels[b]!).sum, 0);
  assert.ok(Math.abs(ours - ref) / ref < 1e-4, `loss ${ours} vs reference ${ref}`);
  const per = await perExampleNll(model, batch);
  per.forEach((p, b) => {
    const r = referenceSum(batch.inputIds[b]!, batch.labels[b]!);
    assert.equal(p.tokens, r.tokens);
    assert.ok(Math.abs(p.nllSum - r.sum) / r.sum < 1e-4, `example ${b}: ${p.nllSum} vs ${r.sum}`);
  });
});

function makeLora(m: LlamaModel, seed: number) {
  const rnd = randomNormal(seed);
  const r = 2;
  const vars: Record<string, tf.Variable> = {};
  const targets: TargetModule[] = ['q_proj', 'v_proj', 'down_proj'];
  m.layers.forEach((layer, i) => {
    for (const mod of targets) {
      const lin = layer.proj[mod];
      vars[`${i}.${mod}.A`] = tf.variable(tf.tensor2d(Array.from({ length: lin.inFeatures * r }, () => rnd() * 0.3), [lin.inFeatures, r]));
      vars[`${i}.${mod}.B`] = tf.variable(tf.tensor2d(Array.from({ length: r * lin.outFeatures }, () => rnd() * 0.3), [r, lin.outFeatures]));
    }
  });
  const hook: LoraHook = (layer, mod, x) => {
    const A = vars[`${layer}.${mod}.A`];
    const B = vars[`${layer}.${mod}.B`];
    return A && B ? (tf.matMul(tf.matMul(x, A), B) as tf.Tensor2D) : null;
  };
  return { vars, hook };
}

test('gradients reach the LoRA hook and match a finite difference, with and without the training layout', () => {
  const batch = batchOf(model);
  const grads: Record<string, Float32Array>[] = [];
  // Three ways to the same gradient: default layout, training layout, and training layout with the loss head
  // recomputing its logits in the backward pass instead of keeping them.
  for (const [m, keep] of [[model, true], [trainModel, true], [trainModel, false]] as const) {
    lossTuning.keepGradValues = keep ? 64 * 1024 * 1024 : 0;
    const { vars, hook } = makeLora(m, 11);
    const { value, grads: g } = tf.variableGrads(() => responseNllSum(m, batch, hook), Object.values(vars));
    const names = Object.keys(vars);
    grads.push(Object.fromEntries(names.map((n) => [n, g[vars[n]!.name]!.dataSync() as Float32Array])));
    // Directional derivative along a random direction vs the central difference of the loss.
    const rnd = randomNormal(5);
    const dirs = Object.values(vars).map((v) => tf.tensor(Array.from({ length: v.size }, () => rnd()), v.shape));
    const analytic = Object.values(vars).reduce((acc, v, i) => acc + tf.sum(tf.mul(g[v.name]!, dirs[i]!)).dataSync()[0]!, 0);
    const eps = 1e-2;
    const lossAt = (sign: number) => {
      Object.values(vars).forEach((v, i) => v.assign(tf.add(v, tf.mul(dirs[i]!, sign * eps))));
      const l = tf.tidy(() => responseNllSum(m, batch, hook).dataSync()[0]!);
      Object.values(vars).forEach((v, i) => v.assign(tf.sub(v, tf.mul(dirs[i]!, sign * eps))));
      return l;
    };
    const numeric = (lossAt(1) - lossAt(-1)) / (2 * eps);
    assert.ok(Math.abs(analytic - numeric) / Math.abs(numeric) < 2e-2, `directional derivative ${analytic} vs finite difference ${numeric}`);
    assert.ok(Math.abs(analytic) > 1e-3);
    tf.dispose([value, ...Object.values(g), ...dirs, ...Object.values(vars)]);
  }
  lossTuning.keepGradValues = 64 * 1024 * 1024;
  for (const [n, b] of Object.keys(grads[0]!).flatMap((name) => [1, 2].map((k) => [name, grads[k]![name]!] as const))) {
    const a = grads[0]![n]!;
    let diff = 0;
    let mag = 0;
    a.forEach((x, i) => {
      diff = Math.max(diff, Math.abs(x - b[i]!));
      mag = Math.max(mag, Math.abs(x));
    });
    assert.ok(diff <= 1e-4 * mag + 1e-6, `${n}: training layout gradient differs by ${diff}`);
  }
});

test('a batch whose labels were all truncated away gives a zero loss with zero gradients', () => {
  const enc = encodeExample(model.tokenizer, samples[0]!, { cutoffLen: 8 });
  assert.ok(enc.labels.every((l) => l === IGNORE_INDEX));
  const { vars, hook } = makeLora(model, 3);
  const { value, grads } = tf.variableGrads(() => responseNllSum(model, { inputIds: [enc.inputIds], labels: [enc.labels] }, hook), Object.values(vars));
  assert.ok(value.dataSync()[0] === 0);
  for (const g of Object.values(grads)) assert.ok(g.dataSync().every((x) => x === 0));
  tf.dispose([value, ...Object.values(grads), ...Object.values(vars)]);
});

test('attention gradients (plain-matMul backward) equal autodiff of the batched formulation', () => {
  const [B, T, nh, kv, hd] = [2, 5, 6, 2, 4];
  const q = tf.randomNormal([B, T, nh, hd], 0, 1, 'float32', 1) as tf.Tensor4D;
  const kT = tf.randomNormal([B, kv, hd, T], 0, 1, 'float32', 2) as tf.Tensor4D;
  const v = tf.randomNormal([B, kv, T, hd], 0, 1, 'float32', 3) as tf.Tensor4D;
  const maskData = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) if (s > t || (b === 1 && s >= 3)) maskData[(b * T + t) * T + s] = -1e9;
  const mask = tf.tensor4d(maskData, [B, 1, T, T]);
  const maskSpec = { data: maskData, shape: [B, 1, T, T] as [number, number, number, number] };
  const weights = tf.randomNormal([B * T, nh * hd], 0, 1, 'float32', 4);
  const naive = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => {
    // repeat_kv the plain way: KV head of query head h is h // (nh / kv).
    const rep = nh / kv;
    const kFull = tf.concat(Array.from({ length: nh }, (_, h) => tf.slice(kk, [0, Math.floor(h / rep), 0, 0], [B, 1, hd, T])), 1);
    const vFull = tf.concat(Array.from({ length: nh }, (_, h) => tf.slice(vv, [0, Math.floor(h / rep), 0, 0], [B, 1, T, hd])), 1);
    const qh = tf.transpose(qq, [0, 2, 1, 3]);
    const p = tf.softmax(tf.add(tf.mul(tf.matMul(qh, kFull), 1 / Math.sqrt(hd)), mask));
    return tf.reshape(tf.transpose(tf.matMul(p, vFull), [0, 2, 1, 3]), [B * T, nh * hd]);
  };
  const ours = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) =>
    attention(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, maskSpec, { batch: B, queryLen: T, keyLen: T, numHeads: nh, numKvHeads: kv, headDim: hd });
  const loss = (f: typeof naive) => (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.mul(f(qq, kk, vv), weights));
  const a = tf.grads(loss(ours))([q, kT, v]);
  const b = tf.grads(loss(naive))([q, kT, v]);
  const outDiff = tf.max(tf.abs(tf.sub(ours(q, kT, v), naive(q, kT, v)))).dataSync()[0]!;
  assert.ok(outDiff < 1e-5, `forward differs by ${outDiff}`);
  a.forEach((g, i) => {
    const diff = tf.max(tf.abs(tf.sub(g, b[i]!))).dataSync()[0]!;
    const mag = tf.max(tf.abs(b[i]!)).dataSync()[0]!;
    assert.ok(diff < 1e-4 * mag, `gradient ${['q', 'kT', 'v'][i]} differs by ${diff} (max ${mag})`);
  });
});

test('the backward pass keeps activations only: no copy of the embedding or weight matrices is saved', async () => {
  // Embedding 20,000 × 32 floats (2.5 MB) dwarfs the activations of a 3 × 40-token batch.
  const big = await writeTinyModel(join(mkdtempSync(join(tmpdir(), 'forge-loss-')), 'big'), { arch: 'llama', vocabSize: 20000, tied: true, seed: 2 });
  const m = await loadModel(big.dir, { training: true });
  const enc = samples.map((s) => encodeExample(m.tokenizer, s, { cutoffLen: 40, trainOnInputs: true }));
  const { vars, hook } = makeLora(m, 5);
  const before = tf.memory().numBytes;
  let kept = 0;
  const { value, grads } = tf.variableGrads(() => {
    const l = responseNllSum(m, { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) }, hook);
    kept = tf.memory().numBytes - before;
    return l;
  }, Object.values(vars));
  tf.dispose([value, ...Object.values(grads), ...Object.values(vars)]);
  m.dispose();
  // What remains: dNLL/dlogits (≈ 120 × 20,000 floats = 9.6 MB) plus small activations; a saved embedding copy
  // would add 2.5 MB per copy, a weight copy 4–8 KB per projection.
  const dLogits = enc.reduce((a, e) => a + e.inputIds.length - 1, 0) * 20000 * 4;
  assert.ok(kept < dLogits + 1_500_000, `kept ${kept} bytes after the forward pass (dlogits ${dLogits})`);
});
