import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, TARGET_MODULES, type LlamaModel } from '../../src/model/load.js';
import { forwardHidden, lmHead } from '../../src/model/llama.js';
import { fromBf16Bits, packBf16, packInt8, toBf16Bits, unpackWeight, type BaseWeights } from '../../src/model/base-weights.js';
import { frozenWeightBytes } from '../../src/train/engines/plan.js';
import { modelPair } from '../helpers/packed-model.js';
import { referenceLogits } from './reference.js';

before(async () => {
  await selectBackend('wasm');
});

function logitsOf(model: LlamaModel, ids: number[]): Float32Array {
  const t = tf.tidy(() => lmHead(model, tf.reshape(forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32')), [ids.length, model.config.hiddenSize]) as tf.Tensor2D));
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

test('bf16 packing is lossless for bf16 values and rounds to nearest even; int8 keeps outlier features exact', () => {
  const values = new Float32Array([1, -2.5, 3.140625, 1e-3, -0, 65280]).map((v) => fromBf16Bits(toBf16Bits(v)));
  assert.deepEqual(unpackWeight(packBf16(values, 2, 3)), values);
  // 1 + 2⁻⁸ lies halfway between two bf16 values: ties go to the even one (1), 1 + 3·2⁻⁸ to 1 + 2⁻⁶.
  assert.equal(fromBf16Bits(toBf16Bits(1 + 2 ** -8)), 1);
  assert.equal(fromBf16Bits(toBf16Bits(1 + 3 * 2 ** -8)), 1 + 2 ** -6);

  const rows = 200;
  const cols = 8;
  const w = new Float32Array(rows * cols).map((_, e) => Math.sin(e * 1.7) * 0.1);
  for (let j = 0; j < cols; j++) w[17 * cols + j] = 5 + j; // input feature 17: an outlier
  const q = packInt8(w, rows, cols);
  assert.deepEqual(Array.from(q.slot.filter((s) => s >= 0)), [0]);
  assert.equal(q.slot[17], 0);
  const back = unpackWeight(q);
  for (let j = 0; j < cols; j++) assert.equal(back[17 * cols + j], w[17 * cols + j], 'outlier kept in float32');
  // The scales come from the other rows: every other value is within half a quantisation step.
  for (let e = 0; e < rows * cols; e++) if (Math.floor(e / cols) !== 17) assert.ok(Math.abs(back[e]! - w[e]!) <= 0.5 * q.scale[e % cols]! + 1e-9, `element ${e}`);
});

for (const kind of ['bf16', 'int8'] as const) {
  test(`the forward pass with ${kind} base weights equals the float64 reference of the dequantised weights`, async () => {
    const { packed, plain } = await modelPair(kind);
    const model = await loadModel(packed.dir, { baseWeights: kind });
    try {
      assert.ok(TARGET_MODULES.every((m) => model.layers[0]!.proj[m].wT === null && model.layers[0]!.proj[m].packed?.kind === kind), 'projections are packed, not float32');
      const ids = [5, 17, 42, 99, 3, 250, 7, 64, 12];
      const ours = logitsOf(model, ids);
      const ref = referenceLogits(plain, ids);
      let maxDiff = 0;
      let maxRef = 0;
      ref.forEach((row, t) => row.forEach((r, v) => ((maxDiff = Math.max(maxDiff, Math.abs(ours[t * row.length + v]! - r))), (maxRef = Math.max(maxRef, Math.abs(r))))));
      assert.ok(maxDiff / maxRef < 1e-5, `${kind}: relative logit error ${maxDiff / maxRef}`);
    } finally {
      model.dispose();
    }
  });
}

test('loaded weights take the bytes the plan gives each choice, within 10%, and one layout unless wasm trains float32', async () => {
  const { packed } = await modelPair('int8');
  const cfg = (await loadModel(packed.dir)).config;
  const measured = async (opts: Parameters<typeof loadModel>[1]) => {
    const before = tf.memory().numBytes;
    const m = await loadModel(packed.dir, opts);
    const bytes = tf.memory().numBytes - before;
    m.dispose();
    return bytes;
  };
  const cases: Array<[BaseWeights, 1 | 2, Parameters<typeof loadModel>[1]]> = [
    ['f32', 2, { training: true }],
    ['f32', 1, { training: true, weightLayouts: 1 }],
    ['bf16', 1, { training: true, baseWeights: 'bf16' }],
    ['int8', 1, { training: true, baseWeights: 'int8' }],
  ];
  const sizes: Record<string, number> = {};
  for (const [kind, layouts, opts] of cases) {
    const got = await measured(opts);
    const planned = frozenWeightBytes(cfg, kind, layouts).weights;
    sizes[`${kind}/${layouts}`] = got;
    // Two layouts: the plan's 8 B/param counts norms and biases twice, a rounding only a tiny model notices.
    if (layouts === 2) continue;
    assert.ok(Math.abs(got - planned) <= 0.1 * planned, `${kind} in ${layouts} layout(s): ${got} bytes allocated, plan ${planned}`);
  }
  assert.ok(sizes['int8/1']! < sizes['bf16/1']! && sizes['bf16/1']! < sizes['f32/1']! && sizes['f32/1']! < sizes['f32/2']!, JSON.stringify(sizes));
});
