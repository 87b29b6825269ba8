/**
 * GPU memory stays bounded (SwiftShader): tfjs-backend-webgpu pools freed buffers by exact byte size and never
 * frees them, so every new padded length used to add a whole pass's activations to the pool, and every sampled
 * token a KV cache one position longer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../../src/model/backend.js';
import { bufferPoolStats, poolBudget } from '../../src/model/backend-pool.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { AdamW } from '../../src/train/adamw.js';
import { DeviceStepper } from '../../src/train/engines/device-stepper.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { useSoftwareWebGpu } from '../helpers/webgpu.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { tempDir } from './fixtures.js';

const skip = useSoftwareWebGpu();
let model: LlamaModel;
const savedBudget = poolBudget.bytes;

before(async () => {
  if (skip) return;
  await selectBackend('webgpu');
  const info = await writeTinyModel(tempDir('pool'), { arch: 'llama', layers: 1, hidden: 16, heads: 2, kvHeads: 1, intermediate: 32, seed: 5 });
  model = await loadModel(info.dir, { training: true });
});

after(() => {
  poolBudget.bytes = savedBudget;
  model?.dispose();
});

test('30 training steps over varied lengths keep the GPU buffer pool within its budget', { skip, timeout: 600_000 }, async () => {
  poolBudget.bytes = 64 * 1024;
  const w = initLoraWeights({ r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: 1, features: (_l, m) => projectionFeatures(model.config, m) }, 1);
  const lora = new LoraRuntime(w);
  const params = flatParams(w);
  const device = new DeviceStepper(model, lora, params, new AdamW(params.map((p) => p.length)), { maxGradNorm: 1, maxPassTokens: Infinity, maxSeqLen: 60 });
  const seen: Array<{ T: number; allocated: number; free: number; sizes: number }> = [];
  for (let step = 1; step <= 30; step++) {
    // Lengths 9…60 in a scrambled order, two rows of different lengths per step: 30 distinct padded shapes before.
    const T = 9 + ((step * 19) % 52);
    const row = (n: number) => Array.from({ length: n }, (_, t) => 5 + ((t * 7 + step) % 90));
    const ids = [row(T), row(Math.max(3, T - 6))];
    const r = await device.step([{ inputIds: ids, labels: ids, dropoutSeed: step }], { step, lossTokens: 2 * T - 8, lr: 1e-3 });
    assert.ok(Number.isFinite(r.loss));
    const s = bufferPoolStats()!;
    seen.push({ T, allocated: s.allocatedBytes, free: s.freeBytes, sizes: s.sizes });
  }
  await device.close();
  lora.dispose();
  const firstTen = seen.slice(0, 10);
  const report = seen.map((s) => `${s.T}:${(s.allocated / 1024).toFixed(0)}K/${s.sizes}`).join(' ');
  // The three buckets (16, 32 and the cap, 60) all came up in the first ten steps: the last twenty add no buffer
  // sizes and next to no memory (the loss head's rows still follow the count of labelled tokens; the trim keeps
  // those within the budget). Before the buckets every new length added a pass's activations.
  assert.ok(Math.max(...seen.map((s) => s.allocated)) <= 1.25 * Math.max(...firstTen.map((s) => s.allocated)), `the pool kept growing after the first ten steps: ${report}`);
  assert.ok(Math.max(...seen.map((s) => s.sizes)) <= Math.max(...firstTen.map((s) => s.sizes)), `new buffer sizes after the first ten steps: ${report}`);
});
