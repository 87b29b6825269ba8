import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel, type LoadModelOptions } from '../../src/model/load.js';
import { forwardHidden } from '../../src/model/llama.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { AdamW } from '../../src/train/adamw.js';
import { DeviceStepper } from '../../src/train/engines/device-stepper.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights, type LoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import type { MicroBatch } from '../../src/train/engines/gradients.js';
import { modelPair } from '../helpers/packed-model.js';
import { SAMPLES } from './fixtures.js';

before(async () => {
  await selectBackend('wasm');
});

const weightsFor = (model: LlamaModel): LoraWeights =>
  initLoraWeights({ r: 4, alpha: 8, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 3);

/** Three optimizer steps of two micro-batches each on the backend; the losses, grad norms and trained adapter. */
async function train(dir: string, opts: LoadModelOptions): Promise<{ losses: number[]; norms: number[]; params: Float32Array[] }> {
  const model = await loadModel(dir, { training: true, ...opts });
  const w = weightsFor(model);
  const lora = new LoraRuntime(w);
  const stepper = new DeviceStepper(model, lora, flatParams(w), new AdamW(flatParams(w).map((p) => p.length)), { maxGradNorm: 1, maxPassTokens: Infinity });
  const enc = SAMPLES.map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
  const losses: number[] = [];
  const norms: number[] = [];
  try {
    for (let step = 1; step <= 3; step++) {
      const pick = (idx: number[], k: number): MicroBatch => ({ inputIds: idx.map((i) => enc[i]!.inputIds), labels: idx.map((i) => enc[i]!.labels), dropoutSeed: 100 * step + k });
      const micro = [pick([0, 1], 0), pick([2, 3], 1)];
      const lossTokens = micro.reduce((n, mb) => n + mb.labels.reduce((m, row) => m + row.slice(1).filter((y) => y !== -100).length, 0), 0);
      const r = await stepper.step(micro, { step, lossTokens, lr: 2e-2 });
      losses.push(r.loss);
      norms.push(r.gradNorm);
    }
    await stepper.sync();
    return { losses, norms, params: flatParams(w).map((p) => p.slice()) };
  } finally {
    await stepper.close();
    lora.dispose();
    model.dispose();
  }
}

function assertClose(a: { losses: number[]; norms: number[]; params: Float32Array[] }, b: typeof a, label: string): void {
  a.losses.forEach((l, i) => assert.ok(Math.abs(l - b.losses[i]!) <= 1e-5 * b.losses[i]!, `${label} step ${i + 1} loss ${l} vs ${b.losses[i]}`));
  a.norms.forEach((n, i) => assert.ok(Math.abs(n - b.norms[i]!) <= 1e-4 * b.norms[i]!, `${label} step ${i + 1} grad norm ${n} vs ${b.norms[i]}`));
  let maxDiff = 0;
  a.params.forEach((p, k) => p.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - b.params[k]![i]!)))));
  assert.ok(maxDiff < 1e-5, `${label}: adapters differ by ${maxDiff}`);
}

test('LoRA steps on bf16 and int8 base weights (int8 with gradient checkpointing) match float32 training on the dequantised weights', { timeout: 120_000 }, async () => {
  for (const kind of ['bf16', 'int8'] as const) {
    const { packed, plain } = await modelPair(kind, { arch: 'llama', heads: 4, kvHeads: 2, seed: 11 });
    const reference = await train(plain.dir, {});
    const ours = await train(packed.dir, { baseWeights: kind, gradientCheckpointing: kind === 'int8' });
    assertClose(ours, reference, kind);
    assert.ok(reference.losses[2]! < reference.losses[0]!, `training moves the loss: ${reference.losses.join(', ')}`);
  }
});

test('gradient checkpointing gives float32 training the same steps, and keeps fewer tensors through the forward pass', { timeout: 120_000 }, async () => {
  const { plain } = await modelPair('bf16', { arch: 'qwen2', heads: 4, kvHeads: 2, layers: 4, seed: 5 });
  const reference = await train(plain.dir, { weightLayouts: 1 });
  const ours = await train(plain.dir, { weightLayouts: 1, gradientCheckpointing: true });
  assertClose(ours, reference, 'checkpointed');
  // The tape's saved tensors: measured as tensors alive after a forward pass under a gradient tape.
  const alive = async (gradientCheckpointing: boolean) => {
    const model = await loadModel(plain.dir, { training: true, weightLayouts: 1, gradientCheckpointing });
    const w = weightsFor(model);
    const lora = new LoraRuntime(w);
    const hook = lora.hook({ dropoutSeed: 1 });
    const ids = tf.tensor2d([[5, 6, 7, 8, 9, 10, 11, 12]], [1, 8], 'int32');
    let during = 0;
    const before = tf.memory().numBytes;
    const r = tf.variableGrads(() => {
      const h = forwardHidden(model, ids, { lora: hook });
      during = tf.memory().numBytes - before;
      return tf.sum(h) as tf.Scalar;
    }, lora.variables);
    tf.dispose([r.value, ...Object.values(r.grads)]);
    ids.dispose();
    lora.dispose();
    model.dispose();
    return during;
  };
  const full = await alive(false);
  const ckpt = await alive(true);
  assert.ok(ckpt < 0.6 * full, `bytes held after the forward pass: ${ckpt} checkpointed vs ${full}`);
});
