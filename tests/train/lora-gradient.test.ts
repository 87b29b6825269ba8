import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { responseNllSum } from '../../src/model/loss.js';
import { LoraRuntime, dropoutMask } from '../../src/train/adapters/lora.js';
import { microBatchGradients } from '../../src/train/engines/gradients.js';
import { flatParams, initLoraWeights, type LoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { randomNormal } from '../helpers/tiny-model.js';
import { SAMPLES, tempDir, tinyModel } from './fixtures.js';

let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  const info = await tinyModel(tempDir('grad'));
  model = await loadModel(info.dir, { training: true });
});

function adapter(dropout: number): LoraWeights {
  const w = initLoraWeights(
    { r: 4, alpha: 8, dropout, targetModules: ['q_proj', 'v_proj', 'o_proj', 'down_proj'], useRslora: false },
    { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) },
    5,
  );
  // B starts at zero in PEFT, which would make every A-gradient zero: give it values so both are checked.
  const rnd = randomNormal(9);
  for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = rnd() * 0.3;
  return w;
}

function batch() {
  const enc = SAMPLES.slice(0, 3).map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
  return { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) };
}

for (const dropout of [0, 0.2]) {
  test(`LoRA gradients match central finite differences (dropout ${dropout}, padded batch)`, async () => {
    const w = adapter(dropout);
    const lora = new LoraRuntime(w);
    const b = batch();
    const seed = 1234;
    const { grads } = await microBatchGradients(model, lora, { ...b, dropoutSeed: seed });
    const params = flatParams(w);
    const f = (values: Float32Array[]) => {
      lora.assign(values);
      const t = responseNllSum(model, b, lora.hook({ dropoutSeed: seed }));
      const v = t.dataSync()[0]!;
      t.dispose();
      return v;
    };
    const eps = 1e-2;
    let checked = 0;
    // For every tensor (A and B of each module and layer): its largest-gradient coordinate and one fixed other.
    params.forEach((p, k) => {
      const g = grads[k]!;
      let big = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[big]!)) big = i;
      for (const i of [big, (k * 7 + 3) % g.length]) {
        const plus = params.map((x) => x.slice());
        const minus = params.map((x) => x.slice());
        plus[k]![i]! += eps;
        minus[k]![i]! -= eps;
        const numeric = (f(plus) - f(minus)) / (2 * eps);
        const analytic = g[i]!;
        const err = Math.abs(numeric - analytic);
        assert.ok(err <= 0.03 * Math.abs(numeric) + 2e-3, `tensor ${k} [${i}]: analytic ${analytic}, numeric ${numeric}`);
        checked++;
      }
    });
    assert.equal(checked, 2 * params.length);
    // Every adapted tensor receives gradient.
    assert.ok(grads.every((g) => g.some((x) => x !== 0)));
    lora.dispose();
  });
}

test('dropout masks depend only on the seed, and no dropout without one', async () => {
  const w = adapter(0.5);
  const lora = new LoraRuntime(w);
  const b = batch();
  const value = (seed?: number) => {
    const t = responseNllSum(model, b, lora.hook(seed === undefined ? {} : { dropoutSeed: seed }));
    const v = t.dataSync()[0]!;
    t.dispose();
    return v;
  };
  assert.equal(value(1), value(1));
  assert.notEqual(value(1), value(2));
  assert.equal(value(), value());
  const base = responseNllSum(model, b).dataSync()[0]!;
  assert.notEqual(value(), base); // the adapter changes the output
  const m = dropoutMask([400, 500], 0.1, 3);
  const values = m.dataSync();
  m.dispose();
  const dropped = values.filter((v) => v === 0).length / values.length;
  assert.ok(Math.abs(dropped - 0.1) < 0.005, `dropped share ${dropped}`);
  assert.ok(values.every((v) => v === 0 || Math.abs(v - 1 / 0.9) < 1e-6), 'kept inputs are scaled by 1/(1-p)');
  const before = tf.memory().numTensors;
  await microBatchGradients(model, lora, { ...b, dropoutSeed: 3 });
  assert.equal(tf.memory().numTensors, before, 'a training micro-batch leaks no tensors');
  lora.dispose();
});

test('the lean backward pass gives tf.variableGrads gradients, and splitting a micro-batch into passes sums the same', async () => {
  const w = adapter(0);
  const lora = new LoraRuntime(w);
  const b = batch();
  const ref = tf.variableGrads(() => responseNllSum(model, b, lora.hook({ dropoutSeed: 7 })), lora.variables);
  const refGrads = lora.variables.map((v) => ref.grads[v.name]!.dataSync() as Float32Array);
  const lean = await microBatchGradients(model, lora, { ...b, dropoutSeed: 7 });
  const split = await microBatchGradients(model, lora, { ...b, dropoutSeed: 7 }, { maxPassTokens: 1 });
  const maxDiff = (x: Float32Array[], y: Float32Array[]) => {
    let d = 0;
    let m = 0;
    x.forEach((g, k) => g.forEach((v, i) => ((d = Math.max(d, Math.abs(v - y[k]![i]!))), (m = Math.max(m, Math.abs(v))))));
    return d / m;
  };
  assert.ok(maxDiff(lean.grads, refGrads) < 1e-5, `lean vs variableGrads: ${maxDiff(lean.grads, refGrads)}`);
  assert.ok(maxDiff(split.grads, refGrads) < 1e-4, `3 passes vs 1: ${maxDiff(split.grads, refGrads)}`);
  assert.ok(Math.abs(split.nllSum - ref.value.dataSync()[0]!) < 1e-3 * Math.abs(split.nllSum));
  ref.value.dispose();
  tf.dispose(Object.values(ref.grads));
  lora.dispose();
});
