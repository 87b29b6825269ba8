/**
 * LoRA training speed on a randomly initialised SmolLM2-135M-shaped model (30 layers, hidden 576, 9/3 heads,
 * intermediate 1536, vocab 49152, tied), LoRA r=8 on q/v, through the trainer's own step: on CPU backends the
 * gradient engine (worker threads on wasm) + clipping + AdamW on the host, on GPU backends the device step
 * (accumulation, clipping and AdamW on the device, two scalars read per step). For each micro-batch shape
 * (default today's 4×256 and a larger 8×512) it reports tokens/s, the achieved FLOP/s and the ratio to the
 * matMul FLOP/s the backend reaches in the same run.
 *
 *   node --import tsx bench/train.ts [--backend wasm|native|webgpu|...] [--shapes 4x256,8x512] [--steps 3] [--workers auto|N]
 *                                    [--small] [--model DIR] [--base-weights f32|bf16|int8] [--json FILE]
 *
 * --json FILE also writes every figure (bench/train-run.ts's TrainBenchFigures) to FILE.
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
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BASE_WEIGHTS, type BaseWeights } from '../src/model/base-weights.js';
import type { BackendName } from '../src/model/backend.js';
import { LORA_R, g3, parseShapes, runTrainBench } from './train-run.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    workers: { type: 'string', default: 'auto' },
    steps: { type: 'string', default: '3' },
    shapes: { type: 'string' },
    small: { type: 'boolean', default: false },
    model: { type: 'string' },
    'base-weights': { type: 'string', default: 'f32' },
    json: { type: 'string' },
  },
});
const small = values.small === true;
const baseWeights = values['base-weights'] as BaseWeights;
if (!BASE_WEIGHTS.includes(baseWeights)) throw new TypeError(`--base-weights: "${baseWeights}" is not one of ${BASE_WEIGHTS.join(', ')}`);
const f = await runTrainBench({
  backend: values.backend as BackendName,
  workers: values.workers === 'auto' ? 'auto' : Number(values.workers),
  steps: Number(values.steps),
  shapes: parseShapes(values.shapes ?? (small ? '2x32,4x64' : '4x256,8x512')),
  small,
  ...(values.model === undefined ? {} : { modelDir: values.model }),
  baseWeights,
  log: (line) => console.error(line),
});
if (values.json) writeFileSync(values.json, `${JSON.stringify(f, null, 2)}\n`);
const what = values.model ? `${f.model.type} ${f.model.layers} layers, hidden ${f.model.hidden}` : small ? 'small (2 layers, hidden 64)' : 'SmolLM2-135M';
const peak = Math.max(f.matmulGflops?.modelShape ?? 0, f.matmulGflops?.cube ?? 0);
console.log(
  `train ${what} shape, LoRA r=${LORA_R} q/v, ${f.backend} x${f.workers}${f.software ? ' (software adapter)' : ''}${baseWeights === 'f32' ? '' : `, ${baseWeights} base weights`}: ` +
    `${f.shapes.map((s) => `${s.shape}: ${s.tokensPerSec.toFixed(1)} tokens/s, ${g3(s.gflops)} GFLOP/s (${g3(s.gflopPerMicroBatch)} GFLOP per micro-batch), ratio ${s.ratioToMatmul?.toFixed(2)}`).join('; ')} — vs matMul ${g3(peak)} GFLOP/s x${f.workers}`,
);
