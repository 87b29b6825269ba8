/**
 * bf16 and int8 base weights on WebGPU (SwiftShader): the widening kernels compute the values JavaScript does, the
 * forward pass equals the float64 reference of the dequantised weights, the bytes allocated match the plan, and a
 * checkpointed int8 training run (through the CLI, one backend per process) takes the steps wasm takes in float32
 * on the dequantised weights.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel } from '../../src/model/load.js';
import { forwardHidden, lmHead } from '../../src/model/llama.js';
import { packBf16, packInt8, unpackWeight } from '../../src/model/base-weights.js';
import { uploadPacked, widenWeight, packedTensors } from '../../src/model/widen-weights.js';
import { frozenWeightBytes } from '../../src/train/engines/plan.js';
import { runCli } from '../helpers/cli.js';
import { modelPair } from '../helpers/packed-model.js';
import { softwareWebGpuEnv, useSoftwareWebGpu } from '../helpers/webgpu.js';
import { referenceLogits } from '../model/reference.js';
import { SAMPLES, tempDir, writeDataset } from './fixtures.js';

const skip = useSoftwareWebGpu();

before(async () => {
  if (!skip) await selectBackend('webgpu');
});

test('the widening kernels compute bit for bit what JavaScript computes', { skip }, async () => {
  const rows = 130;
  const cols = 7; // odd sizes: the last word is half (bf16) or a quarter (int8) full
  const w = new Float32Array(rows * cols).map((_, e) => Math.sin(e * 0.37) * (e % 11 === 0 ? 3 : 0.2));
  for (let j = 0; j < cols; j++) w[40 * cols + j] = -9 - j;
  for (const packed of [packBf16(w, rows, cols), packInt8(w, rows, cols)]) {
    const p = uploadPacked(packed);
    const wide = widenWeight(p);
    const got = (await wide.data()) as Float32Array;
    assert.deepEqual(Array.from(got), Array.from(unpackWeight(packed)), packed.kind);
    wide.dispose();
    tf.dispose(packedTensors(p));
  }
});

test('the forward pass on WebGPU with int8 weights equals the float64 reference, in the bytes the plan gives', { skip }, async () => {
  const { packed, plain } = await modelPair('int8');
  const before = tf.memory().numBytes;
  const model = await loadModel(packed.dir, { training: true, baseWeights: 'int8' });
  const allocated = tf.memory().numBytes - before;
  const planned = frozenWeightBytes(model.config, 'int8', 1).weights;
  try {
    assert.ok(Math.abs(allocated - planned) <= 0.1 * planned, `allocated ${allocated}, plan ${planned}`);
    const ids = [5, 17, 42, 99, 3, 250, 7];
    const t = tf.tidy(() => lmHead(model, tf.reshape(forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32')), [ids.length, model.config.hiddenSize]) as tf.Tensor2D));
    const ours = (await t.data()) as Float32Array;
    t.dispose();
    let maxDiff = 0;
    let maxRef = 0;
    referenceLogits(plain, ids).forEach((row, i) => row.forEach((r, v) => ((maxDiff = Math.max(maxDiff, Math.abs(ours[i * row.length + v]! - r))), (maxRef = Math.max(maxRef, Math.abs(r))))));
    assert.ok(maxDiff / maxRef < 1e-5, `relative logit error ${maxDiff / maxRef}`);
  } finally {
    model.dispose();
  }
});

async function trainRun(args: string[], out: string) {
  const r = await runCli([...args, '--out', out, '--workers', '1', '--max-steps', '2', '--batch-size', '4', '--micro-batch-size', '2', '--cutoff-len', '24', '--train-on-inputs', '--lora-dropout', '0.1', '--learning-rate', '1e-2', '--val-set-size', '0', '--warmup-steps', '0', '--save-every', '0', '--json'], {
    env: softwareWebGpuEnv(),
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; grad_norm: number });
}

test('train --base-weights int8 --gradient-checkpointing on, on WebGPU, takes the steps of float32 wasm training on the dequantised weights', { skip, timeout: 240_000 }, async () => {
  const root = tempDir('webgpu-int8');
  const { packed, plain } = await modelPair('int8', { arch: 'llama', heads: 4, kvHeads: 2, seed: 11 });
  const data = writeDataset(root, SAMPLES);
  const [gpu, cpu] = await Promise.all([
    trainRun(['train', '--model', packed.dir, '--data', data, '--backend', 'webgpu', '--base-weights', 'int8', '--gradient-checkpointing', 'on'], join(root, 'gpu')),
    trainRun(['train', '--model', plain.dir, '--data', data, '--backend', 'wasm'], join(root, 'cpu')),
  ]);
  assert.deepEqual(gpu.map((e) => e.step), [1, 2]);
  gpu.forEach((g, i) => {
    const c = cpu[i]!;
    assert.ok(Math.abs(g.loss - c.loss) <= 1e-5 * c.loss, `step ${g.step} loss: webgpu int8 ${g.loss}, wasm f32 ${c.loss}`);
    assert.ok(Math.abs(g.grad_norm - c.grad_norm) <= 1e-4 * c.grad_norm, `step ${g.step} grad norm: webgpu int8 ${g.grad_norm}, wasm f32 ${c.grad_norm}`);
  });
});
