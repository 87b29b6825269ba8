/**
 * DPO on the device step (SwiftShader): gradients weighted and summed on the device, one read per step, clipping
 * and AdamW on the device, against the host step (per-sequence gradients read back, AdamW on host arrays).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { AdamW } from '../../src/train/adamw.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights, type LoraWeights } from '../../src/train/adapters/lora-weights.js';
import { DeviceAdamW } from '../../src/train/engines/device-update.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { hostUpdate } from '../../src/train/host-update.js';
import { encodePreferencePairs } from '../../src/train/methods/dpo-data.js';
import { dpoDeviceStep } from '../../src/train/methods/dpo-device.js';
import { summarisePairs } from '../../src/train/methods/dpo-loss.js';
import { dpoStepGradients, sequenceLogps } from '../../src/train/methods/dpo.js';
import { seededRandom } from '../../src/random.js';
import { useSoftwareWebGpu } from '../helpers/webgpu.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { tempDir } from './fixtures.js';

const skip = useSoftwareWebGpu();
let model: LlamaModel;

before(async () => {
  if (skip) return;
  await selectBackend('webgpu');
  const info = await writeTinyModel(join(tempDir('dpo-device'), 'm'), { arch: 'llama', layers: 1, hidden: 16, heads: 2, kvHeads: 1, intermediate: 32, seed: 8 });
  model = await loadModel(info.dir, { training: true });
});

after(() => model?.dispose());

const weights = (): LoraWeights => {
  const w = initLoraWeights({ r: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: 1, features: (_l, m) => projectionFeatures(model.config, m) }, 2);
  const rnd = seededRandom(4);
  for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = (rnd() - 0.5) * 0.2;
  return w;
};

test('three DPO steps on the device equal the host step: losses, grad norms and adapter', { skip, timeout: 600_000 }, async () => {
  const raw = [
    { prompt: 'Q: yes?\nA:', chosen: ' Yes.', rejected: ' Nope!' },
    { prompt: 'Q: colour?\nA:', chosen: ' Blue', rejected: ' I will not.' },
    { prompt: 'Q: two and two?\nA:', chosen: ' Four', rejected: ' Nine' },
  ];
  const pairs = encodePreferencePairs(model.tokenizer, raw, 64).encoded;
  const refLora = new LoraRuntime(weights());
  const lp = await sequenceLogps(model, refLora, pairs.flatMap((p) => [p.chosen, p.rejected]));
  refLora.dispose();
  const reference = pairs.map((_, i) => ({ chosen: lp[2 * i]!, rejected: lp[2 * i + 1]! }));
  const settings = { beta: 0.5, loss: 'sigmoid' as const };
  const maxGradNorm = 0.05;

  const hostW = weights();
  const hostParams = flatParams(hostW);
  const hostOpt = new AdamW(hostParams.map((p) => p.length), { weightDecay: 0.01 });
  const hostLora = new LoraRuntime(hostW);
  const devW = weights();
  const devParams = flatParams(devW);
  const devOpt = new AdamW(devParams.map((p) => p.length), { weightDecay: 0.01 });
  const devLora = new LoraRuntime(devW);
  const adamw = new DeviceAdamW(devLora.variables, devParams, devOpt);
  let clipped = 0;
  for (let step = 1; step <= 3; step++) {
    const batch = step === 2 ? pairs.slice(1) : pairs;
    const ref = step === 2 ? reference.slice(1) : reference;
    const dropoutSeed = (k: number, side: 0 | 1) => 1000 * step + 2 * k + side;
    hostLora.assign(hostParams);
    const h = await dpoStepGradients(model, hostLora, batch, ref, { ...settings, dropoutSeed });
    const hostNorm = hostUpdate(hostParams, h.grads, hostOpt, maxGradNorm, 1e-2);
    const d = await dpoDeviceStep(model, devLora, adamw, batch, ref, { ...settings, dropoutSeed, maxGradNorm, lr: 1e-2, checkLoss: () => {} });
    const [hl, dl] = [summarisePairs(h.pairs).loss, summarisePairs(d.pairs).loss];
    assert.ok(Math.abs(dl - hl) <= 1e-5 * hl, `step ${step} loss: device ${dl}, host ${hl}`);
    assert.ok(Math.abs(d.gradNorm - hostNorm) <= 1e-5 * hostNorm, `step ${step} grad norm: device ${d.gradNorm}, host ${hostNorm}`);
    if (hostNorm > maxGradNorm) clipped++;
  }
  assert.ok(clipped > 0, 'clipping was exercised');
  await adamw.sync();
  let diff = 0;
  let scale = 0;
  let moved = 0;
  const initial = flatParams(weights());
  devParams.forEach((p, k) =>
    p.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - hostParams[k]![i]!));
      scale = Math.max(scale, Math.abs(hostParams[k]![i]!));
      moved = Math.max(moved, Math.abs(v - initial[k]![i]!));
    }),
  );
  assert.ok(moved > 1e-3, 'training changed the adapter');
  assert.ok(diff <= 1e-5 * scale, `adapters differ by ${diff} (scale ${scale})`);
  assert.equal(devOpt.stepCount, 3);
  adamw.dispose();
  hostLora.dispose();
  devLora.dispose();
});
