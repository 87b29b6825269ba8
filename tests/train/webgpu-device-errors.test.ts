/**
 * A GPU step that fails must fail loudly (SwiftShader, whose buffers stop at 1 GiB): an over-limit tensor used to
 * print Dawn's validation errors and let the read return the previous read's value; a lost device used to go
 * unnoticed until some later read.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { ModelError } from '../../src/errors.js';
import { withDeviceErrors } from '../../src/model/device-errors.js';
import { AdamW } from '../../src/train/adamw.js';
import { DeviceStepper } from '../../src/train/engines/device-stepper.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import type { MicroBatch } from '../../src/train/engines/gradients.js';
import { useSoftwareWebGpu } from '../helpers/webgpu.js';
import { tempDir, tinyModel } from './fixtures.js';

const skip = useSoftwareWebGpu();
let model: LlamaModel;

before(async () => {
  if (skip) return;
  await selectBackend('webgpu');
  model = await loadModel((await tinyModel(tempDir('device-errors'))).dir, { training: true });
});

function stepper(): { device: DeviceStepper; lora: LoraRuntime; params: Float32Array[] } {
  const w = initLoraWeights({ r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 1);
  const lora = new LoraRuntime(w);
  const params = flatParams(w);
  return { device: new DeviceStepper(model, lora, params, new AdamW(params.map((p) => p.length)), { maxGradNorm: 1, maxPassTokens: Infinity }), lora, params };
}

const batch = (sequences: number, T: number): MicroBatch => {
  const ids = Array.from({ length: T }, (_, t) => 5 + (t % 200));
  return { inputIds: Array.from({ length: sequences }, () => ids), labels: Array.from({ length: sequences }, () => ids), dropoutSeed: 1 };
};

test('work the GPU rejected fails with a typed error instead of returning the previous read\'s value', { skip, timeout: 60_000 }, async () => {
  const small = tf.sum(tf.fill([10], 7));
  assert.equal(((await small.data()) as Float32Array)[0], 70);
  // 1.2 GB, over SwiftShader's 1 GiB buffers: Dawn rejects the buffer and every use of it, and the read comes back
  // with the staging buffer's old contents. Before the scopes: 70, printed errors, no exception.
  await assert.rejects(
    withDeviceErrors('a test read', async () => {
      const big = tf.fill([300_000_000], 1);
      const s = tf.sum(big);
      const v = ((await s.data()) as Float32Array)[0];
      tf.dispose([big, s]);
      return v;
    }),
    (e: unknown) => e instanceof ModelError && /GPU rejected a test read, so its results cannot be trusted: Buffer size \(1200000000\) exceeds/.test(e.message) && /--micro-batch-size/.test(e.hint ?? ''),
  );
  small.dispose();
  // The scopes were popped: later work reads true values and raises nothing.
  assert.equal(await withDeviceErrors('a second read', async () => ((await tf.sum(tf.fill([4], 2)).data()) as Float32Array)[0]), 8);
  const { device, lora } = stepper();
  const ok = await device.step([batch(1, 8)], { step: 1, lossTokens: 7, lr: 1e-2 });
  assert.ok(Number.isFinite(ok.loss));
  await device.close();
  lora.dispose();
});

test('a lost device fails the step with its reason', { skip, timeout: 60_000 }, async () => {
  const { device } = stepper();
  // destroy() resolves device.lost, as a driver reset or a GPU timeout does.
  (tf.backend() as unknown as { device: { destroy(): void } }).device.destroy();
  await assert.rejects(device.step([batch(1, 8)], { step: 3, lossTokens: 7, lr: 1e-2 }), (e: unknown) => e instanceof ModelError && /device was lost/.test(e.message));
});
