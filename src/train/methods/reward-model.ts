import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { ModelError } from '../../errors.js';
import { parseJsonAs } from '../../data/parse-json-as.js';
import { encodePromptResponse } from '../../model/encode-example.js';
import { loadModel, type LlamaModel } from '../../model/load.js';
import { shapesOf } from '../adapters/adapter-io.js';
import { LoraRuntime } from '../adapters/lora.js';
import { readAdapter } from '../adapters/peft-files.js';
import { SCORE_WEIGHT, sequenceRewards } from './reward-head.js';

export interface RewardModel {
  /** The reward of each (prompt, response), the prompt already rendered (Alpaca), cut to `cutoffLen` tokens. */
  rewards(items: ReadonlyArray<{ prompt: string; response: string }>): Promise<number[]>;
  dispose(): void;
}

/**
 * A reward model written by `train --method rm` (PEFT SEQ_CLS: LoRA + `score.weight` in modules_to_save) on its
 * base model: `modelDir`, or the adapter's base_model_name_or_path.
 */
export async function loadRewardModel(dir: string, opts: { modelDir?: string | undefined; cutoffLen?: number } = {}): Promise<RewardModel> {
  let base = opts.modelDir;
  if (base === undefined) {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    try {
      base = parseJsonAs(readFileSync(join(dir, 'adapter_config.json'), 'utf8'), z.object({ base_model_name_or_path: z.string().optional() })).base_model_name_or_path;
    } catch {
      base = undefined;
    }
    if (!base) throw new ModelError(`${dir}: no base model named in adapter_config.json`, 'pass --model DIR (the base the reward model was trained on)');
  }
  const model: LlamaModel = await loadModel(base);
  try {
    const read = readAdapter(dir, shapesOf(model));
    const head = read.modulesToSave.find((t) => t.name === SCORE_WEIGHT);
    if (read.taskType !== 'SEQ_CLS' || !head) {
      throw new ModelError(`${dir}: not a reward model (task_type ${JSON.stringify(read.taskType)}, ${head ? 'with' : 'no'} ${SCORE_WEIGHT})`, 'train one with alpaca-forge train --method rm, or pass an adapter with a SEQ_CLS head');
    }
    if (head.data.length !== model.config.hiddenSize) throw new ModelError(`${dir}: ${SCORE_WEIGHT} has ${head.data.length} values, the model's hidden size is ${model.config.hiddenSize}`, 'a reward model scores with one output (num_labels 1) on the base it was trained on');
    const lora = new LoraRuntime({ ...read.weights, spec: { ...read.weights.spec, dropout: 0 } });
    const w = tf.tensor1d(head.data);
    const cutoffLen = opts.cutoffLen ?? 512;
    return {
      async rewards(items) {
        const seqs = items.map((it) => encodePromptResponse(model.tokenizer, it.prompt, it.response, { cutoffLen, addEos: true }).inputIds);
        return sequenceRewards(model, seqs, w, lora.hook());
      },
      dispose() {
        w.dispose();
        lora.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
