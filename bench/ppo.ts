/**
 * PPO's speed next to SFT's, on the same random model, backend and thread count, after one warm-up step each:
 * - rollout: response tokens sampled per second by the KV-cache sampler (prefill of the prompt included in the time);
 * - update: tokens per second through the --ppo-epochs forward + backward passes (every token of prompt + response,
 *   as SFT's figure counts every input token);
 * - step: the update's tokens over the whole step (rollout, policy/reference/reward passes and update).
 * The reward model is a fresh SEQ_CLS adapter with a random head on the same base (what PPO costs does not depend
 * on what it rewards).
 *
 *   node --import tsx bench/ppo.ts [--backend wasm] [--hidden 256] [--layers 4] [--steps 3] [--batch 8] [--new-tokens 32] [--ppo-epochs 4]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainConfigSchema, type TrainConfigInput } from '../src/config/train.js';
import { initLoraWeights } from '../src/train/adapters/lora-weights.js';
import { writeAdapter } from '../src/train/adapters/peft-files.js';
import { projectionFeatures } from '../src/train/engines/plan.js';
import { loadModelConfig } from '../src/model/config.js';
import { runPpoTraining } from '../src/train/methods/ppo.js';
import { readTrainLog } from '../src/train/train-log.js';
import type { TrainEvent } from '../src/events.js';
import { runTraining } from '../src/train/trainer.js';
import { seededRandom } from '../src/random.js';
import { methodBenchOptions, methodBenchSetup } from './bench-model.js';

const { values } = parseArgs({
  options: {
    ...methodBenchOptions,
    'new-tokens': { type: 'string', default: '32' },
    'ppo-epochs': { type: 'string', default: '4' },
  },
});
const { hidden, layers, steps, batch, backend, root, model } = await methodBenchSetup('ppo', values);
const newTokens = Number(values['new-tokens']);
const ppoEpochs = Number(values['ppo-epochs']);

const n = batch * (steps + 1);
const samples = Array.from({ length: n }, (_, k) => ({ instruction: `Explain point number ${k} of the list in two sentences.`, input: '', output: `Here is a careful answer to question ${k}, with the reasons laid out one by one.` }));
const data = join(root, 'data.json');
writeFileSync(data, JSON.stringify(samples));

const mcfg = loadModelConfig(model.dir);
const rmDir = join(root, 'rm');
const rnd = seededRandom(3);
writeAdapter(rmDir, initLoraWeights({ r: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: mcfg.numLayers, features: (_l, m) => projectionFeatures(mcfg, m) }, 1), {
  baseModel: model.dir,
  taskType: 'SEQ_CLS',
  modulesToSave: [{ name: 'score.weight', shape: [1, mcfg.hiddenSize], data: Float32Array.from({ length: mcfg.hiddenSize }, () => (rnd() - 0.5) * 0.1) }],
});

const config = (out: string, over: TrainConfigInput = {}) =>
  trainConfigSchema.parse({ model: model.dir, data, out, backend: backend.name, workers: 1, valSetSize: 0, warmupSteps: 0, batchSize: batch, microBatchSize: batch, epochs: 1, saveEvery: 0, evalEvery: 0, cutoffLen: 512, ...over });

const sftRates: number[] = [];
await runTraining(config(join(root, 'sft-out')), { onEvent: (e: TrainEvent) => e.type === 'step' && sftRates.push(e.tokensPerSec) });
const ppoOut = join(root, 'ppo-out');
await runPpoTraining(config(ppoOut, { rewardModel: rmDir, maxNewTokens: newTokens, temperature: 1, ppoEpochs, maxSteps: steps + 1 }));

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const log = (readTrainLog(join(ppoOut, 'train_log.jsonl')) as unknown as Array<Record<string, number>>).filter((r) => 'loss' in r).slice(1);
const sft = mean(sftRates.slice(1));
const rollout = mean(log.map((r) => r['time/rollout_tokens_per_sec']!));
const update = mean(log.map((r) => r['time/update_tokens_per_sec']!));
const step = mean(log.map((r) => r['tokens_per_sec']!));
const length = mean(log.map((r) => r['val/response_length']!));
console.log(
  `ppo on ${backend.name} (1 thread), random llama hidden ${hidden} x ${layers} layers, batch ${batch}, ${length.toFixed(1)}-token responses, ${ppoEpochs} PPO epochs: rollout ${rollout.toFixed(0)} tokens/s sampled, update ${update.toFixed(0)} tokens/s (${(update / sft).toFixed(2)}x SFT's ${sft.toFixed(0)}), whole step ${step.toFixed(0)} tokens/s (${(step / sft).toFixed(2)}x SFT's)`,
);
