import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { addSameShape, applyRope, rmsNorm, swiglu } from '../../src/model/lean-ops.js';
import { buildRope, ropeTables } from '../../src/model/rope.js';
import { parseModelConfig } from '../../src/model/config.js';

before(async () => {
  await selectBackend('wasm');
});

/** Max |a − b| over max |b|, for the value and every input gradient of Σ(f(...)·w). */
function compare(ours: (...x: tf.Tensor[]) => tf.Tensor, plain: (...x: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]) {
  const w = tf.randomNormal(ours(...inputs).shape, 0, 1, 'float32', 9);
  const loss = (f: typeof ours) => (...x: tf.Tensor[]) => tf.sum(tf.mul(f(...x), w)) as tf.Scalar;
  const rel = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]!);
  assert.ok(rel(ours(...inputs), plain(...inputs)) < 1e-5, 'values differ');
  const ga = tf.grads(loss(ours))(inputs);
  const gb = tf.grads(loss(plain))(inputs);
  ga.forEach((g, i) => assert.ok(rel(g, gb[i]!) < 1e-4, `gradient ${i} differs by ${rel(g, gb[i]!)}`));
}

test('rmsNorm gradient equals autodiff of x·rsqrt(mean(x²)+eps)·w, on rows and on heads', () => {
  const weight = tf.randomNormal([8], 1, 0.1, 'float32', 1) as tf.Tensor1D;
  const plain = (x: tf.Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6))), weight);
  compare((x) => rmsNorm(x, weight, 1e-6), plain, [tf.randomNormal([5, 8], 0, 1, 'float32', 2)]);
  compare((x) => rmsNorm(x, weight, 1e-6), plain, [tf.randomNormal([2, 3, 4, 8], 0, 1, 'float32', 3)]);
});

test('swiglu gradient equals autodiff of g·sigmoid(g)·u', () => {
  compare((g, u) => swiglu(g as tf.Tensor2D, u as tf.Tensor2D), (g, u) => tf.mul(tf.mul(g!, tf.sigmoid(g!)), u!), [tf.randomNormal([6, 10], 0, 2, 'float32', 4), tf.randomNormal([6, 10], 0, 1, 'float32', 5)]);
});

test('RoPE gradient equals autodiff of x·cos + rotate_half(x)·sin', () => {
  const config = parseModelConfig({ model_type: 'llama', hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 10 });
  const T = 5;
  const { cos, sinSigned } = ropeTables(buildRope(config), 3, T);
  const cosT = tf.tensor4d(cos, [1, T, 1, 8]);
  // Plain sin (no folded sign) and rotate_half written out: cat(−x2, x1).
  const sin = tf.tensor4d(sinSigned.map((v, i) => ((i % 8) < 4 ? -v : v)), [1, T, 1, 8]);
  const plain = (x: tf.Tensor) => {
    const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, 4]);
    const x2 = tf.slice(x, [0, 0, 0, 4], [-1, -1, -1, 4]);
    return tf.add(tf.mul(x, cosT), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin));
  };
  compare((x) => applyRope(x as tf.Tensor4D, cos, sinSigned), plain, [tf.randomNormal([2, T, 3, 8], 0, 1, 'float32', 6)]);
});

test('addSameShape passes the gradient to both inputs', () => {
  compare((a, b) => addSameShape(a!, b!), (a, b) => tf.add(a!, b!), [tf.randomNormal([3, 4], 0, 1, 'float32', 7), tf.randomNormal([3, 4], 0, 1, 'float32', 8)]);
});
