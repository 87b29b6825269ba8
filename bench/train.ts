/**
 * LoRA training speed on a randomly initialised SmolLM2-135M-shaped model (30 layers, hidden 576, 9/3 heads,
 * intermediate 1536, vocab 49152, tied): micro-batches of 4 × 256 tokens, LoRA r=8 on q/v, through the trainer's
 * own gradient engine (worker threads on wasm), clipping and AdamW. Reports tokens/s, the achieved FLOP/s and the
 * ratio to the matMul FLOP/s the backend reaches in the same run.
 *
 *   node --import tsx bench/train.ts [--backend wasm] [--workers auto|N] [--steps 3] [--response 192]
 *
 * FLOPs are counted per micro-batch as executed, multiply-add = 2: forward through every frozen projection,
 * attention (full T×T score matrix; tfjs computes the masked half too), LoRA, and the LM head on response rows
 * only; backward w.r.t. activations (= forward projections again; attention ×2: dQ, dK, dV, dP; LoRA ×2 incl. the
 * A/B gradients), no weight gradients for frozen weights. The LM head's backward recomputes its logits chunk by
 * chunk instead of storing them: that recompute is real work but is NOT counted (it is not model FLOPs).
 * Element-wise work (norms, softmax, RoPE, SiLU) is not counted either.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { loadModel } from '../src/model/load.js';
import { loadModelConfig } from '../src/model/config.js';
import { AdamW } from '../src/train/adamw.js';
import { clipGlobalNorm } from '../src/train/clip.js';
import type { GradEngine } from '../src/train/grad-engine.js';
import type { MicroBatch } from '../src/train/gradients.js';
import { LocalGradEngine } from '../src/train/local-engine.js';
import { LoraRuntime } from '../src/train/lora.js';
import { flatParams, initLoraWeights } from '../src/train/lora-weights.js';
import { projectionFeatures, trainingPassTokens } from '../src/train/plan.js';
import { mixSeed } from '../src/train/rng.js';
import { WorkerGradEngine } from '../src/train/worker-engine.js';
import { writeTinyModel } from '../tests/helpers/tiny-model.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    workers: { type: 'string', default: 'auto' },
    steps: { type: 'string', default: '3' },
    response: { type: 'string', default: '192' },
    model: { type: 'string' },
  },
});
const B = 4;
const T = 256;
const R = 8;
const responseLen = Number(values.response);
const steps = Number(values.steps);

const backend = await selectBackend(values.backend as BackendName);
const cpuBound = backend.name === 'wasm' || backend.name === 'cpu';
const workers = values.workers === 'auto' ? (cpuBound ? availableParallelism() : 1) : Number(values.workers);
console.error(`backend: ${backend.name} — ${backend.device}; ${workers} worker(s)`);

// The model is written once (BF16, ~270 MB) and reused by later runs.
const modelDir = values.model ?? join(tmpdir(), 'alpaca-forge-bench-smollm2-135m-random');
if (!existsSync(join(modelDir, 'model.safetensors'))) {
  console.error(`writing a random SmolLM2-135M-shaped checkpoint to ${modelDir}…`);
  mkdirSync(modelDir, { recursive: true });
  await writeTinyModel(modelDir, { arch: 'llama', hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocabSize: 49152, tied: true, dtype: 'BF16', seed: 1 });
}
const c = loadModelConfig(modelDir);

function matmulGflops(): number {
  const x = tf.randomNormal([1024, 576]);
  const y = tf.randomNormal([576, 1536]);
  const once = () => {
    const r = tf.matMul(x, y);
    r.dataSync();
    r.dispose();
  };
  once();
  const reps = 8;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) once();
  const secs = (performance.now() - t0) / 1000 / reps;
  tf.dispose([x, y]);
  return (2 * 1024 * 576 * 1536) / secs / 1e9;
}

// The backend's matMul rate in this run: measured before the workers start and after they stop (each worker is
// one such single-threaded instance), averaged, so a busy machine lowers both figures alike.
const mmBefore = matmulGflops();
const weights = initLoraWeights({ r: R, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: c.numLayers, features: (_l, m) => projectionFeatures(c, m) }, 42);
const params = flatParams(weights);
const maxPassTokens = trainingPassTokens(c, { backend: backend.name, r: R, targetModules: ['q_proj', 'v_proj'], seqLen: T });
console.error(`passes: at most ${maxPassTokens} padded tokens per forward/backward pass (${Number.isFinite(maxPassTokens) ? Math.max(1, Math.floor(maxPassTokens / T)) : B} of the ${B} sequences)`);

let engine: GradEngine;
let localModel: Awaited<ReturnType<typeof loadModel>> | null = null;
const t0 = performance.now();
if (workers > 1) {
  engine = (
    await WorkerGradEngine.start(WorkerGradEngine.init(modelDir, backend.name as BackendName, weights, maxPassTokens), workers)
  ).engine;
} else {
  localModel = await loadModel(modelDir, { training: true });
  engine = new LocalGradEngine(localModel, new LoraRuntime(weights), maxPassTokens);
}
console.error(`model loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// Random token ids; the first T − responseLen positions are the prompt (no loss), the rest the response.
let seed = 1;
const rand = () => (seed = mixSeed(seed, 7)) % c.vocabSize;
const microBatch = (k: number): MicroBatch => {
  const inputIds = Array.from({ length: B }, () => Array.from({ length: T }, rand));
  const labels = inputIds.map((row) => row.map((id, t) => (t < T - responseLen ? -100 : id)));
  return { inputIds, labels, dropoutSeed: mixSeed(42, k) };
};
const lossTokens = B * responseLen; // labels at t ≥ 1 that are not -100 (the prompt is at least one token)

// FLOPs of one micro-batch (see the header).
const N = B * T;
const H = c.hiddenSize;
const q = c.numHeads * c.headDim;
const kv = c.numKvHeads * c.headDim;
const projFwd = 2 * N * (H * q + 2 * H * kv + q * H + 3 * H * c.intermediateSize) * c.numLayers;
const attnFwd = 2 * 2 * B * c.numHeads * T * T * c.headDim * c.numLayers;
const loraFwd = 2 * N * R * (H + q + H + kv) * c.numLayers;
const headFwd = 2 * lossTokens * H * c.vocabSize;
const flopsPerMicro = 2 * projFwd + 3 * attnFwd + 3 * loraFwd + 2 * headFwd;
console.error(
  `FLOPs per micro-batch (${B}×${T}, ${lossTokens} response tokens): ${(flopsPerMicro / 1e9).toFixed(1)} G = projections ${((2 * projFwd) / 1e9).toFixed(1)} + attention ${((3 * attnFwd) / 1e9).toFixed(1)} + LoRA ${((3 * loraFwd) / 1e9).toFixed(2)} + LM head ${((2 * headFwd) / 1e9).toFixed(1)}`,
);

const opt = new AdamW(params.map((p) => p.length));
const perStep = workers; // one micro-batch per worker per step: every core busy, as in a real step of 32
let micro = 0;
const times: number[] = [];
for (let s = 0; s < steps + 1; s++) {
  const batch = Array.from({ length: perStep }, () => microBatch(micro++));
  const ts = performance.now();
  const g = await engine.step(params, batch);
  const grads = g.grads.map((x) => Float32Array.from(x, (v) => v / (perStep * lossTokens)));
  const norm = clipGlobalNorm(grads, 1);
  opt.step(params, grads, 3e-4);
  const secs = (performance.now() - ts) / 1000;
  console.error(`${s === 0 ? 'warm-up ' : ''}step ${s}: ${secs.toFixed(1)} s, loss ${(g.nllSum / (perStep * lossTokens)).toFixed(3)}, grad norm ${norm.toFixed(3)}, ${((perStep * N) / secs).toFixed(1)} tokens/s`);
  if (s > 0) times.push(secs);
}
await engine.close();
localModel?.dispose();

const mmAfter = matmulGflops();
const mm = (mmBefore + mmAfter) / 2;
console.error(`matMul [1024,576]x[576,1536]: ${mmBefore.toFixed(1)} GFLOP/s before, ${mmAfter.toFixed(1)} after`);
const secsPerStep = times.reduce((a, b) => a + b, 0) / times.length;
const tokensPerSec = (perStep * N) / secsPerStep;
const achieved = (perStep * flopsPerMicro) / secsPerStep / 1e9;
const peak = mm * workers;
console.log(
  `train SmolLM2-135M shape, LoRA r=${R} q/v, ${B}x${T} micro-batches, ${backend.name} x${workers}: ${tokensPerSec.toFixed(1)} tokens/s, ${achieved.toFixed(1)} GFLOP/s achieved vs matMul ${mm.toFixed(1)} GFLOP/s x${workers} = ${peak.toFixed(1)}: ratio ${(achieved / peak).toFixed(2)}`,
);
