/**
 * LoRA training speed on a randomly initialised SmolLM2-135M-shaped model (30 layers, hidden 576, 9/3 heads,
 * intermediate 1536, vocab 49152, tied), LoRA r=8 on q/v, through the trainer's own step: on CPU backends the
 * gradient engine (worker threads on wasm) + clipping + AdamW on the host, on GPU backends the device step
 * (accumulation, clipping and AdamW on the device, two scalars read per step). For each micro-batch shape
 * (default today's 4×256 and a larger 8×512) it reports tokens/s, the achieved FLOP/s and the ratio to the
 * matMul FLOP/s the backend reaches in the same run.
 *
 *   node --import tsx bench/train.ts [--backend wasm|webgpu|...] [--shapes 4x256,8x512] [--steps 3] [--workers auto|N]
 *                                    [--small] [--model DIR]
 *
 * --small: a 2-layer, hidden-64 model at 2×32 and 4×64 tokens, so a software WebGPU adapter (SwiftShader) finishes
 * in a couple of minutes; it only shows that the path runs and relative costs, not GPU speed.
 *
 * FLOPs are counted per micro-batch as executed, multiply-add = 2: forward through every frozen projection,
 * attention (full T×T score matrix; tfjs computes the masked half too), LoRA, and the LM head on response rows
 * only; backward w.r.t. activations (= forward projections again; attention ×2: dQ, dK, dV, dP; LoRA ×2 incl. the
 * A/B gradients), no weight gradients for frozen weights. Element-wise work (norms, softmax, RoPE, SiLU, dropout
 * masks) is not counted. The matMul reference is [B·T, 576]×[576, 1536] (this model's MLP shape at the first
 * micro-batch shape) and, on GPU backends, also 2048³ (nearer the device's peak); the ratio uses the larger.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { loadModel, type LlamaModel } from '../src/model/load.js';
import { loadModelConfig } from '../src/model/config.js';
import { AdamW } from '../src/train/adamw.js';
import { passTokensFor } from '../src/train/engines/device-plan.js';
import { DeviceStepper } from '../src/train/engines/device-stepper.js';
import type { MicroBatch } from '../src/train/engines/gradients.js';
import { HostStepper } from '../src/train/engines/host-stepper.js';
import { LocalGradEngine } from '../src/train/engines/local-engine.js';
import { LoraRuntime, isCpuBackendName } from '../src/train/adapters/lora.js';
import { flatParams, initLoraWeights, type LoraWeights } from '../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../src/train/engines/plan.js';
import { mixSeed } from '../src/train/rng.js';
import type { TrainStepper } from '../src/train/engines/train-stepper.js';
import { WorkerGradEngine } from '../src/train/engines/worker-engine.js';
import { writeTinyModel } from '../tests/helpers/tiny-model.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    workers: { type: 'string', default: 'auto' },
    steps: { type: 'string', default: '3' },
    shapes: { type: 'string' },
    small: { type: 'boolean', default: false },
    model: { type: 'string' },
  },
});
const R = 8;
const steps = Number(values.steps);
const small = values.small === true;
const shapes = (values.shapes ?? (small ? '2x32,4x64' : '4x256,8x512')).split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new TypeError(`--shapes: "${s}" is not BxT (e.g. 4x256)`);
  return { B: Number(m[1]), T: Number(m[2]) };
});

const backend = await selectBackend(values.backend as BackendName);
const cpuBound = isCpuBackendName(backend.name);
const workers = values.workers === 'auto' ? (cpuBound ? availableParallelism() : 1) : Number(values.workers);
console.error(`backend: ${backend.name} — ${backend.device}; ${workers} worker(s)${backend.limits ? `; binding limit ${backend.limits.maxStorageBufferBindingSize} B` : ''}`);

// The model is written once (BF16, ~270 MB for the full shape) and reused by later runs.
const modelDir = values.model ?? join(tmpdir(), small ? 'alpaca-forge-bench-train-small' : 'alpaca-forge-bench-smollm2-135m-random');
if (!existsSync(join(modelDir, 'model.safetensors'))) {
  console.error(`writing a random ${small ? 'small' : 'SmolLM2-135M-shaped'} checkpoint to ${modelDir}…`);
  mkdirSync(modelDir, { recursive: true });
  await writeTinyModel(
    modelDir,
    small
      ? { arch: 'llama', hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, tied: true, dtype: 'BF16', seed: 1 }
      : { arch: 'llama', hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocabSize: 49152, tied: true, dtype: 'BF16', seed: 1 },
  );
}
const c = loadModelConfig(modelDir);

/** FLOP/s of an [m, k]×[k, n] matMul, timed over `reps` calls with one read at the end (a GPU runs them queued). */
async function matmulGflops(m: number, k: number, n: number, reps: number): Promise<number> {
  const x = tf.randomNormal([m, k]);
  const y = tf.randomNormal([k, n]);
  const run = async (count: number) => {
    let last: tf.Tensor | null = null;
    for (let i = 0; i < count; i++) {
      last?.dispose();
      last = tf.matMul(x, y);
    }
    await (last as tf.Tensor).data();
    (last as tf.Tensor).dispose();
  };
  await run(1);
  const t0 = performance.now();
  await run(reps);
  const secs = (performance.now() - t0) / 1000 / reps;
  tf.dispose([x, y]);
  return (2 * m * k * n) / secs / 1e9;
}

function freshWeights(): LoraWeights {
  return initLoraWeights({ r: R, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: c.numLayers, features: (_l, m) => projectionFeatures(c, m) }, 42);
}

// FLOPs of one B×T micro-batch whose last responseLen tokens carry loss (see the header).
function flopsPerMicro(B: number, T: number, responseLen: number): number {
  const N = B * T;
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const projFwd = 2 * N * (H * q + 2 * H * kv + q * H + 3 * H * c.intermediateSize) * c.numLayers;
  const attnFwd = 2 * 2 * B * c.numHeads * T * T * c.headDim * c.numLayers;
  const loraFwd = 2 * N * R * (H + q + H + kv) * c.numLayers;
  const headFwd = 2 * B * responseLen * H * c.vocabSize;
  return 2 * projFwd + 3 * attnFwd + 3 * loraFwd + 2 * headFwd;
}

/** Three significant digits: software adapters reach fractions of a GFLOP/s. */
const g3 = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));

const first = shapes[0]!;
const mmModel = await matmulGflops(first.B * first.T, c.hiddenSize, c.intermediateSize, cpuBound ? 8 : 20);
const mmBig = cpuBound ? null : await matmulGflops(small ? 512 : 2048, small ? 512 : 2048, small ? 512 : 2048, small ? 4 : 20);
console.error(`matMul [${first.B * first.T},${c.hiddenSize}]x[${c.hiddenSize},${c.intermediateSize}]: ${g3(mmModel)} GFLOP/s${mmBig === null ? '' : `; ${small ? 512 : 2048}³: ${g3(mmBig)} GFLOP/s`}`);
const peakPerInstance = Math.max(mmModel, mmBig ?? 0);

let localModel: LlamaModel | null = null;
const summaries: string[] = [];
for (const { B, T } of shapes) {
  const responseLen = Math.max(1, Math.round(T * 0.75));
  const weights = freshWeights();
  const params = flatParams(weights);
  const opt = new AdamW(params.map((p) => p.length));
  const { maxPassTokens, warnings } = passTokensFor(c, backend, { r: R, targetModules: ['q_proj', 'v_proj'], seqLen: T });
  for (const w of warnings) console.error(`warning: ${w}`);
  console.error(`${B}x${T}: at most ${maxPassTokens} padded tokens per pass (${Number.isFinite(maxPassTokens) ? Math.min(B, Math.max(1, Math.floor(maxPassTokens / T))) : B} of the ${B} sequences)`);
  let stepper: TrainStepper;
  let lora: LoraRuntime | null = null;
  const t0 = performance.now();
  if (workers > 1) {
    const { engine } = await WorkerGradEngine.start(WorkerGradEngine.init(modelDir, backend.name as BackendName, weights, maxPassTokens), workers);
    stepper = new HostStepper(engine, params, opt, 1);
  } else {
    localModel ??= await loadModel(modelDir, { training: true });
    lora = new LoraRuntime(weights);
    stepper = cpuBound ? new HostStepper(new LocalGradEngine(localModel, lora, maxPassTokens), params, opt, 1) : new DeviceStepper(localModel, lora, params, opt, { maxGradNorm: 1, maxPassTokens });
  }
  console.error(`model ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  // Random token ids; the first T − responseLen positions are the prompt (no loss), the rest the response.
  let seed = 1;
  const rand = () => (seed = mixSeed(seed, 7)) % c.vocabSize;
  let micro = 0;
  const microBatch = (): MicroBatch => {
    const inputIds = Array.from({ length: B }, () => Array.from({ length: T }, rand));
    const labels = inputIds.map((row) => row.map((id, t) => (t < T - responseLen ? -100 : id)));
    return { inputIds, labels, dropoutSeed: mixSeed(42, micro++) };
  };
  const perStep = workers; // one micro-batch per worker per step: every core busy
  const flops = perStep * flopsPerMicro(B, T, responseLen);
  const times: number[] = [];
  for (let s = 0; s < steps + 1; s++) {
    const batch = Array.from({ length: perStep }, microBatch);
    const ts = performance.now();
    const r = await stepper.step(batch, { step: s + 1, lossTokens: perStep * B * responseLen, lr: 3e-4 });
    const secs = (performance.now() - ts) / 1000;
    console.error(`${B}x${T} ${s === 0 ? 'warm-up ' : ''}step ${s}: ${secs.toFixed(2)} s, loss ${r.loss.toFixed(3)}, grad norm ${r.gradNorm.toFixed(3)}, ${((perStep * B * T) / secs).toFixed(1)} tokens/s`);
    if (s > 0) times.push(secs);
  }
  await stepper.close();
  lora?.dispose();
  const secsPerStep = times.reduce((a, b) => a + b, 0) / times.length;
  const achieved = flops / secsPerStep / 1e9;
  const peak = peakPerInstance * workers;
  summaries.push(`${B}x${T}: ${((perStep * B * T) / secsPerStep).toFixed(1)} tokens/s, ${g3(achieved)} GFLOP/s (${g3(flops / perStep / 1e9)} GFLOP per micro-batch), ratio ${(achieved / peak).toFixed(2)}`);
}
localModel?.dispose();
console.log(
  `train ${small ? 'small (2 layers, hidden 64)' : 'SmolLM2-135M'} shape, LoRA r=${R} q/v, ${backend.name} x${workers}${backend.software ? ' (software adapter)' : ''}: ${summaries.join('; ')} — vs matMul ${g3(peakPerInstance)} GFLOP/s x${workers}`,
);
