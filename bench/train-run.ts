/**
 * The training-speed bench as a function, so that bench/train.ts (one shape set, printed) and the device kit
 * (bench/device/kit.ts: several models, figures to JSON) run the same measurement. See bench/train.ts for what is
 * counted.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendInfo, type BackendName } from '../src/model/backend.js';
import type { BaseWeights } from '../src/model/base-weights.js';
import { loadModel, type LlamaModel } from '../src/model/load.js';
import { loadModelConfig, type ModelConfig } from '../src/model/config.js';
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
import { randomBenchModel } from './bench-model.js';

export const LORA_R = 8;

export interface TrainShape {
  B: number;
  T: number;
}

export interface TrainBenchOptions {
  backend: BackendName;
  /** 'auto': one per core on CPU backends, one on GPU backends. */
  workers: number | 'auto';
  steps: number;
  shapes: TrainShape[];
  /** A 2-layer, hidden-64 model when no modelDir is given. */
  small: boolean;
  /** A checkpoint directory; without it a random SmolLM2-135M-shaped (or small) one is written once to tmpdir. */
  modelDir?: string;
  baseWeights: BaseWeights;
  /** Time the matMul reference the ratio divides by. Defaults to true; the kit measures its own peak once (probe). */
  referenceMatmul?: boolean;
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void;
}

export interface TrainShapeFigures {
  shape: string;
  tokensPerSec: number;
  gflops: number;
  gflopPerMicroBatch: number;
  /** achieved FLOP/s over the matMul reference FLOP/s × workers; null without the reference */
  ratioToMatmul: number | null;
  secondsPerStep: number;
  loss: number;
  gradientCheckpointing: boolean;
  /** tf.memory() after the steps: bytes in live tensors, and (GPU backends) bytes the backend holds */
  bytesInUse: number;
  bytesAllocated: number | null;
}

export interface TrainBenchFigures {
  backend: string;
  device: string;
  software: boolean;
  workers: number;
  model: { dir: string; type: string; layers: number; hidden: number; vocab: number; params: number };
  baseWeights: BaseWeights;
  loraR: number;
  loadSeconds: number;
  matmulGflops: { modelShape: number; cube: number | null; cubeSize: number | null } | null;
  shapes: TrainShapeFigures[];
}

export function parseShapes(s: string): TrainShape[] {
  return s.split(',').map((x) => {
    const m = /^(\d+)x(\d+)$/.exec(x.trim());
    if (!m) throw new TypeError(`--shapes: "${x}" is not BxT (e.g. 4x256)`);
    return { B: Number(m[1]), T: Number(m[2]) };
  });
}

/** FLOP/s of an [m, k]×[k, n] matMul, timed over `reps` calls with one read at the end (a GPU runs them queued). */
export async function matmulGflops(m: number, k: number, n: number, reps: number): Promise<number> {
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

/** Parameters of the checkpoint the config describes (embeddings, untied head, projections, norms). */
export function parameterCount(c: ModelConfig): number {
  const proj = (['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const).reduce((n, m) => {
    const f = projectionFeatures(c, m);
    return n + f.inFeatures * f.outFeatures;
  }, 0);
  return c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * (proj + 2 * c.hiddenSize) + c.hiddenSize;
}

/** FLOPs of one B×T micro-batch whose last responseLen tokens carry loss (see bench/train.ts's header). */
export function flopsPerMicro(c: ModelConfig, B: number, T: number, responseLen: number, r: number = LORA_R): number {
  const N = B * T;
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const projFwd = 2 * N * (H * q + 2 * H * kv + q * H + 3 * H * c.intermediateSize) * c.numLayers;
  const attnFwd = 2 * 2 * B * c.numHeads * T * T * c.headDim * c.numLayers;
  const loraFwd = 2 * N * r * (H + q + H + kv) * c.numLayers;
  const headFwd = 2 * B * responseLen * H * c.vocabSize;
  return 2 * projFwd + 3 * attnFwd + 3 * loraFwd + 2 * headFwd;
}

/** Runs the bench on an already started backend (or starts `opts.backend`). */
export async function runTrainBench(opts: TrainBenchOptions, started?: BackendInfo): Promise<TrainBenchFigures> {
  const backend = started ?? (await selectBackend(opts.backend));
  const cpuBound = isCpuBackendName(backend.name);
  const workers = opts.workers === 'auto' ? (cpuBound ? availableParallelism() : 1) : opts.workers;
  opts.log(`backend: ${backend.name} — ${backend.device}; ${workers} worker(s)${backend.limits ? `; binding limit ${backend.limits.maxStorageBufferBindingSize} B` : ''}`);
  const modelDir = opts.modelDir ?? (await randomBenchModel(opts.small, opts.log));
  const c = loadModelConfig(modelDir);
  const { small } = opts;
  const first = opts.shapes[0]!;
  let reference: TrainBenchFigures['matmulGflops'] = null;
  if (opts.referenceMatmul ?? true) {
    const modelShape = await matmulGflops(first.B * first.T, c.hiddenSize, c.intermediateSize, cpuBound ? 8 : 20);
    const cubeSize = cpuBound ? null : small ? 512 : 2048;
    const cube = cubeSize === null ? null : await matmulGflops(cubeSize, cubeSize, cubeSize, small ? 4 : 20);
    opts.log(`matMul [${first.B * first.T},${c.hiddenSize}]x[${c.hiddenSize},${c.intermediateSize}]: ${g3(modelShape)} GFLOP/s${cube === null ? '' : `; ${cubeSize}³: ${g3(cube)} GFLOP/s`}`);
    reference = { modelShape, cube, cubeSize };
  }
  const peakPerInstance = reference ? Math.max(reference.modelShape, reference.cube ?? 0) : null;

  const freshWeights = (): LoraWeights =>
    initLoraWeights({ r: LORA_R, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: c.numLayers, features: (_l, m) => projectionFeatures(c, m) }, 42);

  let localModel: LlamaModel | null = null;
  let loadSeconds = 0;
  const shapes: TrainShapeFigures[] = [];
  try {
    for (const { B, T } of opts.shapes) {
      const responseLen = Math.max(1, Math.round(T * 0.75));
      const weights = freshWeights();
      const params = flatParams(weights);
      const opt = new AdamW(params.map((p) => p.length));
      const plan = passTokensFor(c, backend, { r: LORA_R, targetModules: ['q_proj', 'v_proj'], seqLen: T, baseWeights: opts.baseWeights });
      const { maxPassTokens } = plan;
      for (const w of plan.warnings) opts.log(`warning: ${w}`);
      opts.log(`${B}x${T}: at most ${maxPassTokens} padded tokens per pass (${Number.isFinite(maxPassTokens) ? Math.min(B, Math.max(1, Math.floor(maxPassTokens / T))) : B} of the ${B} sequences); gradient checkpointing ${plan.gradientCheckpointing ? 'on' : 'off'}`);
      let stepper: TrainStepper;
      let lora: LoraRuntime | null = null;
      const t0 = performance.now();
      if (workers > 1) {
        const init = WorkerGradEngine.init(modelDir, backend.name as BackendName, weights, maxPassTokens, { baseWeights: opts.baseWeights, gradientCheckpointing: plan.gradientCheckpointing });
        const { engine } = await WorkerGradEngine.start(init, workers);
        stepper = new HostStepper(engine, params, opt, 1);
      } else {
        localModel ??= await loadModel(modelDir, { training: true, baseWeights: opts.baseWeights });
        localModel.gradientCheckpointing = plan.gradientCheckpointing;
        lora = new LoraRuntime(weights);
        stepper = cpuBound ? new HostStepper(new LocalGradEngine(localModel, lora, maxPassTokens), params, opt, 1) : new DeviceStepper(localModel, lora, params, opt, { maxGradNorm: 1, maxPassTokens });
      }
      const ready = (performance.now() - t0) / 1000;
      loadSeconds ||= ready;
      opts.log(`model ready in ${ready.toFixed(1)} s`);

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
      const flops = perStep * flopsPerMicro(c, B, T, responseLen);
      const times: number[] = [];
      let loss = NaN;
      try {
        for (let s = 0; s < opts.steps + 1; s++) {
          const batch = Array.from({ length: perStep }, microBatch);
          const ts = performance.now();
          const r = await stepper.step(batch, { step: s + 1, lossTokens: perStep * B * responseLen, lr: 3e-4 });
          const secs = (performance.now() - ts) / 1000;
          loss = r.loss;
          opts.log(`${B}x${T} ${s === 0 ? 'warm-up ' : ''}step ${s}: ${secs.toFixed(2)} s, loss ${r.loss.toFixed(3)}, grad norm ${r.gradNorm.toFixed(3)}, ${((perStep * B * T) / secs).toFixed(1)} tokens/s`);
          if (s > 0) times.push(secs);
        }
      } finally {
        await stepper.close();
      }
      const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPUAllocated?: number };
      lora?.dispose();
      const secsPerStep = times.reduce((a, b) => a + b, 0) / times.length;
      const achieved = flops / secsPerStep / 1e9;
      shapes.push({
        shape: `${B}x${T}`,
        tokensPerSec: (perStep * B * T) / secsPerStep,
        gflops: achieved,
        gflopPerMicroBatch: flops / perStep / 1e9,
        ratioToMatmul: peakPerInstance === null ? null : achieved / (peakPerInstance * workers),
        secondsPerStep: secsPerStep,
        loss,
        gradientCheckpointing: plan.gradientCheckpointing,
        bytesInUse: mem.numBytes,
        bytesAllocated: mem.numBytesInGPUAllocated ?? null,
      });
    }
  } finally {
    localModel?.dispose();
  }
  return {
    backend: backend.name,
    device: backend.device,
    software: backend.software === true,
    workers,
    model: { dir: modelDir, type: c.modelType, layers: c.numLayers, hidden: c.hiddenSize, vocab: c.vocabSize, params: parameterCount(c) },
    baseWeights: opts.baseWeights,
    loraR: LORA_R,
    loadSeconds,
    matmulGflops: reference,
    shapes,
  };
}

/** Three significant digits: software adapters reach fractions of a GFLOP/s. */
export const g3 = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
