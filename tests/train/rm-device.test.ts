/**
 * The reward model's device step (what GPU backends run) against its host step, on wasm (the device step runs on
 * any backend; SwiftShader would only make it slower): rewards weighted and summed on the device, one read per step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { AdamW } from '../../src/train/adamw.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { DeviceAdamW } from '../../src/train/engines/device-update.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { hostUpdate } from '../../src/train/host-update.js';
import { rewardDeviceStep } from '../../src/train/methods/rm-device.js';
import { summariseRewardPairs } from '../../src/train/methods/rm-loss.js';
import { encodeRewardPairs, rewardStepGradients } from '../../src/train/methods/rm.js';
import { seededRandom } from '../../src/random.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { tempDir } from './fixtures.js';

let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  const info = await writeTinyModel(join(tempDir('rm-device'), 'm'), { arch: 'llama', layers: 1, hidden: 16, heads: 2, kvHeads: 1, intermediate: 32, seed: 6 });
  model = await loadModel(info.dir, { training: true });
});
after(() => model.dispose());

function start() {
  const w = initLoraWeights({ r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: 1, features: (_l, m) => projectionFeatures(model.config, m) }, 2);
  const rnd = seededRandom(4);
  for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = (rnd() - 0.5) * 0.2;
  const head = Float32Array.from({ length: model.config.hiddenSize }, () => (rnd() - 0.5) * 0.5);
  const lora = new LoraRuntime(w);
  const score = tf.variable(tf.tensor1d(head), true);
  const params = [...flatParams(w), head];
  return { lora, score, params, opt: new AdamW(params.map((p) => p.length), { weightDecay: 0.01 }) };
}

test('three reward-model steps on the device equal the host step: losses, grad norms, adapter and head', async () => {
  const raw = [
    { prompt: 'Q: yes?\nA:', chosen: ' Yes.', rejected: ' Nope!', margin: 0.25 },
    { prompt: 'Q: colour?\nA:', chosen: ' Blue', rejected: ' I will not.' },
    { prompt: 'Q: two and two?\nA:', chosen: ' Four', rejected: ' Nine' },
  ];
  const pairs = encodeRewardPairs(model.tokenizer, raw, 64).examples;
  const host = start();
  const dev = start();
  const adamw = new DeviceAdamW([...dev.lora.variables, dev.score], dev.params, dev.opt);
  const maxGradNorm = 0.05;
  let clipped = 0;
  for (let step = 1; step <= 3; step++) {
    const seed = (k: number, side: 0 | 1) => 1000 * step + 2 * k + side;
    host.lora.assign(host.params.slice(0, -1));
    host.score.assign(tf.tensor1d(host.params.at(-1)!));
    const h = await rewardStepGradients(model, host.lora, host.score, pairs, seed);
    const hostNorm = hostUpdate(host.params, h.grads, host.opt, maxGradNorm, 1e-2);
    const d = await rewardDeviceStep(model, dev.lora, dev.score, adamw, pairs, { dropoutSeed: seed, maxGradNorm, lr: 1e-2, checkLoss: () => {} });
    const [hl, dl] = [summariseRewardPairs(h.pairs).loss, summariseRewardPairs(d.pairs).loss];
    assert.ok(Math.abs(dl - hl) <= 1e-5 * hl, `step ${step} loss: device ${dl}, host ${hl}`);
    assert.ok(Math.abs(d.gradNorm - hostNorm) <= 1e-5 * hostNorm, `step ${step} grad norm: device ${d.gradNorm}, host ${hostNorm}`);
    if (hostNorm > maxGradNorm) clipped++;
  }
  assert.ok(clipped > 0, 'clipping was exercised');
  await adamw.sync();
  let diff = 0;
  let scale = 0;
  dev.params.forEach((p, k) => p.forEach((v, i) => ((diff = Math.max(diff, Math.abs(v - host.params[k]![i]!))), (scale = Math.max(scale, Math.abs(host.params[k]![i]!))))));
  assert.ok(diff <= 1e-5 * scale, `parameters differ by ${diff} (scale ${scale})`);
  adamw.dispose();
  for (const s of [host, dev]) {
    s.lora.dispose();
    s.score.dispose();
  }
});
