/**
 * What one training step and one sampled token cost the GPU in launches and transfers, counted on the webgpu
 * backend (a software adapter is enough: the counts do not depend on the device): compute dispatches, uploads
 * (host arrays copied to the device, single numbers among them) and bytes uploaded.
 *
 *   node --import tsx bench/gpu-dispatches.ts [--layers 2] [--hidden 64] [--tokens 64] [--steps 2]
 *
 * A tiny random LLaMA (GQA 4/2, LoRA r=8 on q/v); the second step and the later tokens are counted, after the
 * shaders compiled.
 */
import { parseArgs } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/model/backend.js';
import { loadModel } from '../src/model/load.js';
import { forwardHidden, lmHead } from '../src/model/llama.js';
import { KVCache } from '../src/model/kv-cache.js';
import { AdamW } from '../src/train/adamw.js';
import { DeviceStepper } from '../src/train/engines/device-stepper.js';
import { LoraRuntime } from '../src/train/adapters/lora.js';
import { flatParams, initLoraWeights } from '../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../src/train/engines/plan.js';
import { writeTinyModel } from '../tests/helpers/tiny-model.js';

const { values } = parseArgs({ options: { layers: { type: 'string', default: '2' }, hidden: { type: 'string', default: '64' }, tokens: { type: 'string', default: '32' }, steps: { type: 'string', default: '2' } } });
if (process.platform === 'linux' && !process.env['VK_ICD_FILENAMES'] && !process.env['VK_DRIVER_FILES']) process.env['VK_ICD_FILENAMES'] = '/usr/lib/chromium/vk_swiftshader_icd.json';
await selectBackend('webgpu');

interface Counts {
  dispatches: number;
  uploads: number;
  scalarUploads: number;
  uploadBytes: number;
}
const counts: Counts = { dispatches: 0, uploads: 0, scalarUploads: 0, uploadBytes: 0 };
// Counted where tfjs-backend-webgpu 4.22 records a dispatch and where it copies a tensor's host values to the GPU.
const backend = tf.backend() as unknown as {
  recordAndSubmit(...a: unknown[]): unknown;
  uploadToGPU(dataId: object): void;
  tensorMap: { get(id: object): { values: ArrayLike<number> | null; resource: unknown } };
};
const record = backend.recordAndSubmit.bind(backend);
backend.recordAndSubmit = (...a) => {
  counts.dispatches++;
  return record(...a);
};
const upload = backend.uploadToGPU.bind(backend);
backend.uploadToGPU = (dataId) => {
  const d = backend.tensorMap.get(dataId);
  if (d.resource == null && d.values) {
    counts.uploads++;
    counts.uploadBytes += 4 * d.values.length;
    if (d.values.length === 1) counts.scalarUploads++;
  }
  upload(dataId);
};
const reset = () => Object.assign(counts, { dispatches: 0, uploads: 0, scalarUploads: 0, uploadBytes: 0 });
const per = (n: number) => `${(counts.dispatches / n).toFixed(0)} dispatches, ${(counts.uploads / n).toFixed(0)} uploads (${(counts.scalarUploads / n).toFixed(0)} single numbers, ${(counts.uploadBytes / n / 1024).toFixed(1)} KiB)`;

const layers = Number(values.layers);
const hidden = Number(values.hidden);
const info = await writeTinyModel(join(mkdtempSync(join(tmpdir(), 'forge-dispatch-')), 'model'), { arch: 'llama', layers, hidden, heads: 4, kvHeads: 2, seed: 3 });
const model = await loadModel(info.dir, { training: true });
const w = initLoraWeights({ r: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers, features: (_l, m) => projectionFeatures(model.config, m) }, 1);
const lora = new LoraRuntime(w);
const params = flatParams(w);
const device = new DeviceStepper(model, lora, params, new AdamW(params.map((p) => p.length)), { maxGradNorm: 1, maxPassTokens: Infinity });
const ids = Array.from({ length: 2 }, (_, b) => Array.from({ length: 30 - 4 * b }, (_, t) => 5 + ((t * 7 + b) % 90)));
const steps = Number(values.steps);
for (let s = 1; s <= steps; s++) {
  if (s === 2 || steps === 1) reset();
  await device.step([{ inputIds: ids, labels: ids, dropoutSeed: s }], { step: s, lossTokens: 50, lr: 1e-3 });
}
const stepLine = `training step (${layers} layers, 2×30 tokens): ${per(Math.max(1, steps - 1))}`;
await device.close();
lora.dispose();

const cache = new KVCache();
const tokens = Number(values.tokens);
const next = (ids: number[]) => tf.tidy(() => lmHead(model, tf.reshape(tf.slice(forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32'), { cache }), [0, ids.length - 1, 0], [1, 1, -1]), [1, hidden]) as tf.Tensor2D));
let logits = next([1, 5, 6, 7, 8]);
await logits.data();
reset();
for (let i = 0; i < tokens; i++) {
  const l = next([5 + (i % 50)]);
  logits.dispose();
  logits = l;
  await logits.data();
}
logits.dispose();
cache.dispose();
console.log(stepLine);
console.log(`sampled token (${layers} layers, LM head included, no sampling): ${per(tokens)}`);
