import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { AdamW } from '../../src/train/adamw.js';
import { DeviceStepper } from '../../src/train/engines/device-stepper.js';
import { dropoutMaskData } from '../../src/train/adapters/dropout-mask.js';
import { HostStepper } from '../../src/train/engines/host-stepper.js';
import { LocalGradEngine } from '../../src/train/engines/local-engine.js';
import { LoraRuntime, dropoutMask } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights, type LoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import type { MicroBatch } from '../../src/train/engines/gradients.js';
import { SAMPLES, tempDir, tinyModel } from './fixtures.js';

let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  model = await loadModel((await tinyModel(tempDir('device'))).dir, { training: true });
});

const weights = (): LoraWeights =>
  initLoraWeights({ r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 3);

function microBatches(step: number): MicroBatch[] {
  const enc = SAMPLES.map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
  const pick = (idx: number[], k: number): MicroBatch => ({ inputIds: idx.map((i) => enc[i]!.inputIds), labels: idx.map((i) => enc[i]!.labels), dropoutSeed: 1000 * step + k });
  return [pick([0, 1], 0), pick([2, 3, 4], 1)];
}
const lossTokensOf = (micro: MicroBatch[]) => micro.reduce((n, mb) => n + mb.labels.reduce((m, row) => m + row.slice(1).filter((y) => y !== -100).length, 0), 0);

test('an optimizer step on the device (accumulate, clip, AdamW) matches the host path: losses, grad norms, adapter and AdamW state', async () => {
  const hostW = weights();
  const hostOpt = new AdamW(flatParams(hostW).map((p) => p.length), { weightDecay: 0.01 });
  const hostLora = new LoraRuntime(hostW);
  const host = new HostStepper(new LocalGradEngine(model, hostLora, 1), flatParams(hostW), hostOpt, 0.5);
  const devW = weights();
  const devOpt = new AdamW(flatParams(devW).map((p) => p.length), { weightDecay: 0.01 });
  const devLora = new LoraRuntime(devW);
  // One sequence per pass on both: exercises accumulation across passes and micro-batches.
  const device = new DeviceStepper(model, devLora, flatParams(devW), devOpt, { maxGradNorm: 0.5, maxPassTokens: 1 });
  let clipped = 0;
  for (let step = 1; step <= 3; step++) {
    const micro = microBatches(step);
    const at = { step, lossTokens: lossTokensOf(micro), lr: 1e-2 };
    const h = await host.step(micro, at);
    const before = tf.memory().numTensors;
    const d = await device.step(micro, at);
    assert.equal(tf.memory().numTensors, before, 'a device step keeps no tensors beyond the variables');
    assert.ok(Math.abs(d.loss - h.loss) <= 1e-5 * h.loss, `step ${step} loss: device ${d.loss}, host ${h.loss}`);
    assert.ok(Math.abs(d.gradNorm - h.gradNorm) <= 1e-5 * h.gradNorm, `step ${step} grad norm: device ${d.gradNorm}, host ${h.gradNorm}`);
    if (h.gradNorm > 0.5) clipped++;
  }
  assert.ok(clipped > 0, 'clipping was exercised');
  await device.sync();
  let maxDiff = 0;
  flatParams(devW).forEach((p, k) => p.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - flatParams(hostW)[k]![i]!)))));
  assert.ok(maxDiff < 1e-6, `adapter differs by ${maxDiff}`);
  assert.ok(flatParams(devW).some((p, k) => p.some((v, i) => v !== weights().entries[Math.floor(k / 2)]![k % 2 ? 'b' : 'a'][i])), 'sync wrote the trained values into the host arrays');
  assert.equal(devOpt.stepCount, 3);
  const hs = hostOpt.getState();
  devOpt.getState().v.forEach((v, k) => v.forEach((x, i) => assert.ok(Math.abs(x - hs.v[k]![i]!) <= 1e-5 * Math.abs(hs.v[k]![i]!) + 1e-12, `v[${k}][${i}]`)));
  await device.close();
  hostLora.dispose();
  devLora.dispose();
});

test('a non-finite loss on the device stops before the update, naming the step', async () => {
  const w = weights();
  const before = flatParams(w).map((p) => p.slice());
  const lora = new LoraRuntime(w);
  const opt = new AdamW(flatParams(w).map((p) => p.length));
  const device = new DeviceStepper(model, lora, flatParams(w), opt, { maxGradNorm: 1, maxPassTokens: Infinity });
  await assert.rejects(device.step(microBatches(1), { step: 7, lossTokens: 0, lr: 1e-2 }), /loss became (Infinity|NaN) at step 7/);
  await device.sync();
  assert.deepEqual(flatParams(w), before);
  assert.equal(opt.stepCount, 0);
  await device.close();
  lora.dispose();
});

test('dropout masks drop p of the inputs, and are independent across seeds, neighbours and rows', () => {
  for (const [n, p, seed] of [[300 * 577, 0.05, 1], [1024 * 96, 0.3, 99]] as const) {
    const dropped = dropoutMaskData(n, p, seed).filter((v) => v === 0).length / n;
    assert.ok(Math.abs(dropped - p) < 0.005, `dropped share ${dropped} for p=${p}`);
  }
  const m = dropoutMask([2, 3], 0.5, 4);
  assert.deepEqual(Array.from(m.dataSync()), Array.from(dropoutMaskData(6, 0.5, 4)));
  m.dispose();
  const n = 200_000;
  const a = dropoutMaskData(n, 0.5, 7);
  const b = dropoutMaskData(n, 0.5, 8);
  const agree = (x: Float32Array, y: Float32Array, shift = 0) => {
    let same = 0;
    for (let i = 0; i + shift < x.length; i++) if ((x[i] === 0) === (y[i + shift] === 0)) same++;
    return same / (x.length - shift);
  };
  for (const [name, share] of [['seeds 7 and 8', agree(a, b)], ['neighbours', agree(a, a, 1)], ['one row of 576 apart', agree(a, a, 576)], ['65536 apart', agree(a, a, 65536)]] as const) {
    assert.ok(Math.abs(share - 0.5) < 0.01, `${name}: ${share} of the decisions agree (independent: 0.5)`);
  }
});
