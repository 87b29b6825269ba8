/**
 * Training speed of each method and each adapter type against SFT with LoRA, through the trainer itself
 * (runTrainer: data, AdamW, the method's step), on one random model, backend and thread: tokens per second
 * (forward + backward, the non-padding tokens each step reports), the mean of the steps after the first (which
 * pays for kernel compilation and allocation). SFT batches its micro-batch in one pass; DPO and RM run one
 * sequence per pass, chosen then rejected, so their ratio is that choice plus the pairs' second response. The
 * prompt-learning adapters add --virtual positions to every sequence and train far fewer parameters. PPO's
 * figure comes from bench/ppo.ts (rollouts and scoring are most of its step).
 *
 *   node --import tsx bench/methods.ts [--backend wasm] [--hidden 256] [--layers 4] [--steps 3] [--batch 8] [--virtual 20]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainConfigSchema, type TrainConfigInput } from '../src/config/train.js';
import type { TrainEvent } from '../src/events.js';
import { runDpoTraining } from '../src/train/methods/dpo.js';
import { runRewardTraining } from '../src/train/methods/rm.js';
import { runTraining } from '../src/train/trainer.js';
import { methodBenchOptions, methodBenchSetup } from './bench-model.js';

const { values } = parseArgs({
  options: {
    ...methodBenchOptions,
    virtual: { type: 'string', default: '20' },
  },
});
const { hidden, layers, steps, batch, backend, root, model } = await methodBenchSetup('methods', values);

// One optimizer step per batch: steps + 1 batches (the first is the warm-up).
const n = batch * (steps + 1);
const answer = (k: number, good: boolean) => (good ? `Here is a careful answer to question ${k}, with the reasons laid out one by one.` : `No idea about question ${k}.`);
const samples = Array.from({ length: n }, (_, k) => ({ instruction: `Explain point number ${k} of the list in two sentences.`, input: '', output: answer(k, true) }));
const pairs = samples.map((s, k) => ({ instruction: s.instruction, input: '', chosen: answer(k, true), rejected: answer(k, false) }));
const sftData = join(root, 'sft.json');
const pairData = join(root, 'pairs.jsonl');
writeFileSync(sftData, JSON.stringify(samples));
writeFileSync(pairData, pairs.map((p) => JSON.stringify(p)).join('\n'));

const config = (data: string, out: string, over: Partial<TrainConfigInput> = {}) =>
  trainConfigSchema.parse({ model: model.dir, data, out: join(root, out), backend: backend.name, workers: 1, valSetSize: 0, warmupSteps: 0, batchSize: batch, microBatchSize: batch, epochs: 1, saveEvery: 0, evalEvery: 0, cutoffLen: 512, ...over });

/** Mean tokens/s of the steps after the first. */
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

const runs: Array<[string, (onEvent: (e: TrainEvent) => void) => Promise<unknown>]> = [
  ['sft lora', (onEvent) => runTraining(config(sftData, 'sft'), { onEvent })],
  ['dpo lora', (onEvent) => runDpoTraining(config(pairData, 'dpo'), { beta: 0.1, loss: 'sigmoid' }, { onEvent })],
  ['rm lora', (onEvent) => runRewardTraining(config(pairData, 'rm'), { onEvent })],
  ...(['prompt-tuning', 'p-tuning', 'prefix-tuning'] as const).map(
    (adapter) => [`sft ${adapter}`, (onEvent: (e: TrainEvent) => void) => runTraining(config(sftData, adapter, { adapter, numVirtualTokens: Number(values.virtual) }), { onEvent })] as [string, (onEvent: (e: TrainEvent) => void) => Promise<unknown>],
  ),
  ['sft p-tuning lstm', (onEvent) => runTraining(config(sftData, 'p-tuning-lstm', { adapter: 'p-tuning', encoderReparameterizationType: 'LSTM', numVirtualTokens: Number(values.virtual) }), { onEvent })],
];
const rates = new Map<string, number>();
for (const [name, run] of runs) {
  const m = measure();
  await run(m.onEvent);
  rates.set(name, m.rate());
  console.log(`${name.padEnd(18)} ${m.rate().toFixed(0).padStart(7)} tokens/s`);
}
const sft = rates.get('sft lora')!;
console.log(
  `train on ${backend.name} (1 thread), random llama hidden ${hidden} x ${layers} layers, batch ${batch}: ` +
    [...rates].map(([name, r]) => `${name} ${r.toFixed(0)} tok/s${name === 'sft lora' ? '' : ` (${(r / sft).toFixed(2)}x)`}`).join(', '),
);
