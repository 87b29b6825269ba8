import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { join, resolve } from 'node:path';
import { ModelError, UsageError } from '../../errors.js';
import { parseJsonAs } from '../../data/parse-json-as.js';
import type { LlamaModel } from '../../model/load.js';
import { shapesOf } from '../adapters/adapter-io.js';
import { LoraRuntime } from '../adapters/lora.js';
import { ADAPTER_CONFIG, readAdapter } from '../adapters/peft-files.js';
import { loadRewardModel } from './reward-model.js';
import { SCORE_WEIGHT, sequenceRewards } from './reward-head.js';

/** What scores a rollout: the reward of prompt + response, as token ids of the policy's tokenizer. */
export interface RolloutScorer {
  scores(seqs: ReadonlyArray<{ prompt: string; promptIds: readonly number[]; response: readonly number[] }>): Promise<number[]>;
  /** true when the reward model runs on the policy's own copy of the base (no second model in memory) */
  readonly sharesBase: boolean;
  dispose(): void;
}

/**
 * The reward model of `train --method rm` in `dir`, scoring the policy's rollouts. When it was trained on the
 * policy's base, it runs on the policy's loaded model with its own LoRA and score head (one copy of the weights,
 * and the ids are scored as sampled); otherwise it loads its own base and scores the decoded text.
 */
export async function openRolloutScorer(dir: string, policy: { model: LlamaModel; modelDir: string; cutoffLen: number }): Promise<RolloutScorer> {
  const configPath = join(dir, ADAPTER_CONFIG);
  if (!existsSync(configPath)) throw new UsageError(`--reward-model ${dir}: no ${ADAPTER_CONFIG}`, 'pass the --out directory of alpaca-forge train --method rm');
  let base: string | null;
  try {
    base = parseJsonAs(readFileSync(configPath, 'utf8'), z.object({ base_model_name_or_path: z.string().nullable().optional() })).base_model_name_or_path ?? null;
  } catch (e) {
    throw new ModelError(`${configPath}: ${(e as Error).message}`, 'pass the --out directory of alpaca-forge train --method rm');
  }
  const eos = policy.model.tokenizer.eosId;
  // The reward model was trained on prompt + response + EOS: a response cut by max-new-tokens gets the EOS too.
  const withEos = (s: { promptIds: readonly number[]; response: readonly number[] }) => (s.response.at(-1) === eos ? [...s.promptIds, ...s.response] : [...s.promptIds, ...s.response, eos]);
  if (base === null || resolve(base) === resolve(policy.modelDir)) {
    const model = policy.model;
    const read = readAdapter(dir, shapesOf(model));
    const head = read.modulesToSave.find((t) => t.name === SCORE_WEIGHT);
    if (read.taskType !== 'SEQ_CLS' || !head || head.data.length !== model.config.hiddenSize) {
      throw new ModelError(`--reward-model ${dir}: not a reward model of this base (task_type ${JSON.stringify(read.taskType)}, ${head ? `${SCORE_WEIGHT} of ${head.data.length} values` : `no ${SCORE_WEIGHT}`})`, 'train one with alpaca-forge train --method rm on the same --model');
    }
    const lora = new LoraRuntime({ ...read.weights, spec: { ...read.weights.spec, dropout: 0 } });
    const w = tf.tensor1d(head.data);
    return {
      sharesBase: true,
      scores: (seqs) => sequenceRewards(model, seqs.map(withEos), w, lora.hook()),
      dispose() {
        w.dispose();
        lora.dispose();
      },
    };
  }
  const rm = await loadRewardModel(dir, { cutoffLen: policy.cutoffLen + 4096 });
  const tok = policy.model.tokenizer;
  return {
    sharesBase: false,
    scores: (seqs) => rm.rewards(seqs.map((s) => ({ prompt: s.prompt, response: tok.decode(s.response.filter((id) => id !== eos)) }))),
    dispose: () => rm.dispose(),
  };
}
