/**
 * DPO and reward-model step speed next to SFT's, on the same random model, backend and thread count: tokens per second (forward +
 * backward, non-padding tokens of every sequence) over a few optimizer steps of each, after one warm-up step.
 * DPO runs one sequence per pass (chosen, then rejected) and SFT batches micro-batches, so their ratio is the cost
 * of that choice plus the pairs' two responses.
 *
 *   node --import tsx bench/dpo.ts [--backend wasm] [--hidden 256] [--layers 4] [--steps 3] [--batch 8]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBackendFlag, selectBackend } from '../src/model/backend.js';
import { trainConfigSchema } from '../src/config/train.js';
import { runDpoTraining } from '../src/train/methods/dpo.js';
import { runRewardTraining } from '../src/train/methods/rm.js';
import type { TrainEvent } from '../src/events.js';
import { runTraining } from '../src/train/trainer.js';
import { writeTinyModel } from '../tests/helpers/tiny-model.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    hidden: { type: 'string', default: '256' },
    layers: { type: 'string', default: '4' },
    steps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '8' },
  },
});
const hidden = Number(values.hidden);
const layers = Number(values.layers);
const steps = Number(values.steps);
const batch = Number(values.batch);
const backend = await selectBackend(parseBackendFlag(values.backend) ?? 'wasm');
const root = mkdtempSync(join(tmpdir(), 'forge-bench-dpo-'));
const model = await writeTinyModel(join(root, 'model'), { arch: 'llama', hidden, layers, heads: 8, kvHeads: 4, intermediate: hidden * 3, seed: 5 });

const n = batch * (steps + 1);
const answer = (k: number, good: boolean) => (good ? `Here is a careful answer to question ${k}, with the reasons laid out one by one.` : `No idea about question ${k}.`);
const samples = Array.from({ length: n }, (_, k) => ({ instruction: `Explain point number ${k} of the list in two sentences.`, input: '', output: answer(k, true) }));
const pairs = samples.map((s, k) => ({ instruction: s.instruction, input: '', chosen: answer(k, true), rejected: answer(k, false) }));
const sftData = join(root, 'sft.json');
const dpoData = join(root, 'pairs.jsonl');
writeFileSync(sftData, JSON.stringify(samples));
writeFileSync(dpoData, pairs.map((p) => JSON.stringify(p)).join('\n'));

const config = (data: string, out: string) =>
  trainConfigSchema.parse({ model: model.dir, data, out, backend: backend.name, workers: 1, valSetSize: 0, warmupSteps: 0, batchSize: batch, microBatchSize: batch, epochs: 1, saveEvery: 0, evalEvery: 0, cutoffLen: 512 });

/** Mean tokens/s of the steps after the first (the first pays for kernel compilation and allocation). */
function measure(): { onEvent: (e: TrainEvent) => void; rate: () => number } {
  const rates: number[] = [];
  return {
    onEvent: (e) => {
      if (e.type === 'step') rates.push(e.tokensPerSec);
    },
    rate: () => {
      const r = rates.slice(1);
      return r.reduce((a, b) => a + b, 0) / Math.max(1, r.length);
    },
  };
}

const sft = measure();
await runTraining(config(sftData, join(root, 'sft-out')), { onEvent: sft.onEvent });
const dpo = measure();
await runDpoTraining(config(dpoData, join(root, 'dpo-out')), { beta: 0.1, loss: 'sigmoid' }, { onEvent: dpo.onEvent });
const rm = measure();
await runRewardTraining(config(dpoData, join(root, 'rm-out')), { onEvent: rm.onEvent });

console.log(
  `train on ${backend.name} (1 thread), random llama hidden ${hidden} x ${layers} layers, batch ${batch}: SFT ${sft.rate().toFixed(0)} tokens/s, DPO ${dpo.rate().toFixed(0)} tokens/s (${(dpo.rate() / sft.rate()).toFixed(2)}x SFT's), RM ${rm.rate().toFixed(0)} tokens/s (${(rm.rate() / sft.rate()).toFixed(2)}x SFT's)`,
);
