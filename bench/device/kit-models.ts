/**
 * The models the device kit trains on, and the runs it makes of them. On a device the checkpoints are written as
 * config + tokenizer here and filled with random weights by PyTorch there (make_weights.py: seconds on a GPU, where
 * our JS writer would spend minutes on a 1.5B model); with --small our own writer makes tiny ones, weights included.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BaseWeights } from '../../src/model/base-weights.js';
import { writeTinyModel, type TinyModelOptions } from '../../tests/helpers/tiny-model.js';

export interface KitModel {
  name: string;
  /** what the shape copies, for the figures */
  shapeOf: string;
  tiny: TinyModelOptions;
}

export interface KitRun {
  /** the figure's key: model name and base-weight format */
  name: string;
  model: string;
  /** BxT list, as bench/train.ts --shapes */
  shapes: string;
  baseWeights: BaseWeights;
  steps: number;
}

/** What `models` writes to work/models/plan.json: where each model is and what to run on it (read by the Python anchor too). */
export interface KitPlan {
  small: boolean;
  models: Array<{ name: string; shapeOf: string; dir: string; weights: 'written' | 'pytorch' }>;
  runs: KitRun[];
}

/** Llama-2-7B's layers to keep in the 7B-shape run: every layer costs load time on the device (see README). */
const LAYERS_7B = Number(process.env['KIT_7B_LAYERS'] ?? 32);

const DEVICE_MODELS: KitModel[] = [
  {
    name: 'smollm2-135m',
    shapeOf: 'HuggingFaceTB/SmolLM2-135M',
    tiny: { arch: 'llama', hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocabSize: 49152, tied: true, ropeTheta: 100000, rmsNormEps: 1e-5, maxPositionEmbeddings: 8192 },
  },
  {
    name: 'qwen2.5-0.5b',
    shapeOf: 'Qwen/Qwen2.5-0.5B',
    tiny: { arch: 'qwen2', hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, vocabSize: 151936, tied: true, ropeTheta: 1000000, maxPositionEmbeddings: 32768 },
  },
  {
    name: 'qwen2.5-1.5b',
    shapeOf: 'Qwen/Qwen2.5-1.5B',
    tiny: { arch: 'qwen2', hidden: 1536, layers: 28, heads: 12, kvHeads: 2, intermediate: 8960, vocabSize: 151936, tied: true, ropeTheta: 1000000, maxPositionEmbeddings: 32768 },
  },
  {
    name: 'llama2-7b',
    shapeOf: `meta-llama/Llama-2-7b-hf${LAYERS_7B === 32 ? '' : ` (${LAYERS_7B} of 32 layers)`}`,
    tiny: { arch: 'llama', hidden: 4096, layers: LAYERS_7B, heads: 32, kvHeads: 32, intermediate: 11008, vocabSize: 32000, tied: false, rmsNormEps: 1e-5, maxPositionEmbeddings: 4096 },
  },
];

const DEVICE_RUNS: KitRun[] = [
  { name: 'smollm2-135m/f32', model: 'smollm2-135m', shapes: '4x256,8x512', baseWeights: 'f32', steps: 3 },
  { name: 'qwen2.5-0.5b/f32', model: 'qwen2.5-0.5b', shapes: '4x256', baseWeights: 'f32', steps: 2 },
  { name: 'qwen2.5-1.5b/f32', model: 'qwen2.5-1.5b', shapes: '4x256', baseWeights: 'f32', steps: 2 },
  { name: 'llama2-7b/int8', model: 'llama2-7b', shapes: '1x1024', baseWeights: 'int8', steps: 2 },
];

// Small enough that SwiftShader compiles and runs every kernel in seconds; two runs so that int8 is exercised too.
const SMALL_MODELS: KitModel[] = [
  { name: 'tiny-llama', shapeOf: 'a 1-layer, hidden-32 Llama', tiny: { arch: 'llama', hidden: 32, layers: 1, heads: 2, kvHeads: 1, intermediate: 64, tied: true, seed: 3 } },
];

const SMALL_RUNS: KitRun[] = [
  { name: 'tiny-llama/f32', model: 'tiny-llama', shapes: '1x16', baseWeights: 'f32', steps: 1 },
  { name: 'tiny-llama/int8', model: 'tiny-llama', shapes: '1x16', baseWeights: 'int8', steps: 1 },
];

/** Writes the models of the chosen set under work/models and the plan beside them. */
export async function writeKitModels(work: string, small: boolean): Promise<KitPlan> {
  const root = join(work, 'models');
  mkdirSync(root, { recursive: true });
  const plan: KitPlan = { small, models: [], runs: small ? SMALL_RUNS : DEVICE_RUNS };
  for (const m of small ? SMALL_MODELS : DEVICE_MODELS) {
    const dir = join(root, m.name);
    // BF16 on disk, as the checkpoints these shapes copy are published.
    await writeTinyModel(dir, { ...m.tiny, dtype: 'BF16', weights: small });
    plan.models.push({ name: m.name, shapeOf: m.shapeOf, dir, weights: small ? 'written' : 'pytorch' });
  }
  writeFileSync(join(root, 'plan.json'), `${JSON.stringify(plan, null, 2)}\n`);
  return plan;
}
