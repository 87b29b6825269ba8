import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { forwardHidden, lmHead } from '../../src/model/llama.js';
import { writeTinyModel, type TinyModelOptions } from '../helpers/tiny-model.js';
import { referenceLogits } from './reference.js';

before(async () => {
  await selectBackend('wasm');
});

const tmp = () => mkdtempSync(join(tmpdir(), 'forge-model-'));

function logitsOf(model: LlamaModel, ids: number[]): Float32Array {
  const t = tf.tidy(() => {
    const hidden = forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32'));
    return lmHead(model, tf.reshape(hidden, [ids.length, model.config.hiddenSize]) as tf.Tensor2D);
  });
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

/** Largest |ours − reference| relative to the largest reference logit. */
function relativeError(ours: Float32Array, ref: Float64Array[]): number {
  const V = ref[0]!.length;
  let maxDiff = 0;
  let maxRef = 0;
  ref.forEach((row, t) => {
    row.forEach((r, v) => {
      maxDiff = Math.max(maxDiff, Math.abs(ours[t * V + v]! - r));
      maxRef = Math.max(maxRef, Math.abs(r));
    });
  });
  return maxDiff / maxRef;
}

async function check(name: string, opts: TinyModelOptions, ids?: number[]) {
  const info = await writeTinyModel(join(tmp(), name), opts);
  const model = await loadModel(info.dir);
  try {
    const seq = ids ?? [info.bosId ?? 5, 17, 42, 99, 3, 250, 7, 64, 12];
    const err = relativeError(logitsOf(model, seq), referenceLogits(info, seq));
    assert.ok(err < 1e-4, `${name}: relative logit error ${err}`);
  } finally {
    model.dispose();
  }
}

test('llama with grouped-query attention matches the float64 reference', async () => {
  await check('llama-gqa', { arch: 'llama', heads: 4, kvHeads: 2 });
});

test('qwen2 with q/k/v biases, untied, matches the reference', async () => {
  await check('qwen2', { arch: 'qwen2', heads: 4, kvHeads: 2, seed: 3 });
});

test('qwen3 with q/k norm and an explicit head_dim matches the reference', async () => {
  await check('qwen3', { arch: 'qwen3', hidden: 32, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 4 });
});
