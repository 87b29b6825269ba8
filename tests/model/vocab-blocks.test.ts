import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, rowBlocks, type LlamaModel } from '../../src/model/load.js';
import { forwardHidden, lmHead, type LoraHook } from '../../src/model/llama.js';
import { lossTuning, perExampleNll, responseNllSum } from '../../src/model/loss.js';
import { ModelError } from '../../src/errors.js';
import { writeTinyModel, randomNormal, type TinyModelInfo } from '../helpers/tiny-model.js';

let root: string;
before(async () => {
  await selectBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'forge-blocks-'));
});

/** A binding limit that splits the vocabulary into blocks of 100 rows (the last one shorter). */
const limitFor = (info: TinyModelInfo) => 100 * info.hidden * 4;

// Ids from every block, in an order that interleaves them.
const IDS = [3, 150, 260, 99, 100, 199, 200, 7, 255, 42];

async function logitsOf(model: LlamaModel, ids: number[]): Promise<Float32Array> {
  const t = tf.tidy(() => lmHead(model, tf.reshape(forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32')), [ids.length, model.config.hiddenSize]) as tf.Tensor2D));
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
}

test('rowBlocks splits rows under a byte limit, at least one row a block', () => {
  assert.deepEqual(rowBlocks(270, 32, 100 * 32 * 4), [0, 100, 200]);
  assert.deepEqual(rowBlocks(270, 32, Infinity), [0]);
  assert.deepEqual(rowBlocks(3, 32, 1), [0, 1, 2]);
});

for (const tied of [false, true]) {
  test(`a ${tied ? 'tied' : 'separate'} embedding and LM head split into vocabulary blocks give the unsplit logits, scores and gradients`, async () => {
    const info = await writeTinyModel(join(root, tied ? 'tied' : 'untied'), { arch: 'llama', tied, seed: 13 });
    assert.ok(info.vocabSize > 200, `vocabulary ${info.vocabSize} must span three blocks`);
    const whole = await loadModel(info.dir);
    const split = await loadModel(info.dir, { maxTensorBytes: limitFor(info) });
    assert.equal(whole.head.blocks.length, 1);
    assert.deepEqual(split.head.starts, [0, 100, 200]);
    for (const b of split.head.blocks) assert.ok(b.wT.size * 4 <= limitFor(info));

    const want = await logitsOf(whole, IDS);
    const got = await logitsOf(split, IDS);
    assert.equal(got.length, IDS.length * info.vocabSize);
    assert.ok(maxRel(got, want) < 1e-6, `split vs whole logits: relative difference ${maxRel(got, want)}`);

    const batch = { inputIds: [IDS, IDS.slice(0, 6)], labels: [IDS.map((id, i) => (i < 2 ? -100 : id)), IDS.slice(0, 6)] };
    const a = await perExampleNll(whole, batch);
    const b = await perExampleNll(split, batch);
    a.forEach((r, i) => {
      assert.equal(b[i]!.tokens, r.tokens);
      assert.ok(Math.abs(b[i]!.nllSum - r.nllSum) < 1e-5 * r.nllSum, `example ${i}: ${b[i]!.nllSum} vs ${r.nllSum}`);
    });

    // Training layout: the loss head's backward pass sums dLogits·W over blocks, both when it keeps dNLL/dlogits
    // and when it recomputes them.
    const wholeT = await loadModel(info.dir, { training: true });
    const splitT = await loadModel(info.dir, { training: true, maxTensorBytes: limitFor(info) });
    assert.equal(splitT.embedTable?.length, 3);
    for (const keep of [true, false]) {
      lossTuning.keepGradValues = keep ? 64 * 1024 * 1024 : 0;
      const grads = await Promise.all([wholeT, splitT].map((m) => loraGrad(m, batch)));
      assert.ok(maxRel(grads[1]!, grads[0]!) < 1e-5, `gradient (keep ${keep}): relative difference ${maxRel(grads[1]!, grads[0]!)}`);
    }
    lossTuning.keepGradValues = 64 * 1024 * 1024;
    for (const m of [whole, split, wholeT, splitT]) m.dispose();
  });
}

async function loraGrad(model: LlamaModel, batch: { inputIds: number[][]; labels: number[][] }): Promise<Float32Array> {
  const rnd = randomNormal(3);
  const H = model.config.hiddenSize;
  const A = tf.variable(tf.tensor2d(Array.from({ length: H * 2 }, () => rnd() * 0.1), [H, 2]));
  const B = tf.variable(tf.tensor2d(Array.from({ length: 2 * H }, () => rnd() * 0.1), [2, H]));
  const hook: LoraHook = (_l, m, x) => (m === 'q_proj' ? (tf.matMul(tf.matMul(x, A), B) as tf.Tensor2D) : null);
  const { value, grads } = tf.variableGrads(() => responseNllSum(model, batch, hook), [A, B]);
  const out = Float32Array.from([...(await grads[A.name]!.data()), ...(await grads[B.name]!.data())]);
  tf.dispose([value, A, B, ...Object.values(grads)]);
  return out;
}

test('a projection over the per-tensor limit is a ModelError naming the tensor, not a crash on the GPU', async () => {
  const info = await writeTinyModel(join(root, 'big-proj'), { arch: 'llama', seed: 2 });
  // The MLP's [64, 32] projections (8 KiB) exceed a 6 KiB limit; the vocabulary would merely be split.
  await assert.rejects(loadModel(info.dir, { maxTensorBytes: 6 * 1024 }), (e: unknown) => e instanceof ModelError && /gate_proj\.weight is .* over the backend's/.test(e.message) && /--backend wasm/.test(e.hint ?? ''));
});
