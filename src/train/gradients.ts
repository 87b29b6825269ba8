import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../model/load.js';
import { responseNllSum, type LabelledBatch } from '../model/loss.js';
import type { LoraRuntime } from './lora.js';

export interface MicroBatch extends LabelledBatch {
  /** seed of this micro-batch's dropout masks; a function of (run seed, step, micro-batch index) */
  dropoutSeed: number;
}

export interface MicroBatchGradients {
  /** d(Σ NLL)/dθ for every LoRA variable, in variable order (not yet divided by the step's token count) */
  grads: Float32Array[];
  nllSum: number;
}

/** Forward + backward of one micro-batch; reads the gradients out of the backend and frees everything else. */
export function microBatchGradients(model: LlamaModel, lora: LoraRuntime, mb: MicroBatch): MicroBatchGradients {
  const hook = lora.hook({ dropoutSeed: mb.dropoutSeed });
  const { value, grads } = tf.variableGrads(() => responseNllSum(model, { inputIds: mb.inputIds, labels: mb.labels }, hook), lora.variables);
  try {
    const out = lora.variables.map((v) => {
      const g = grads[v.name];
      return g ? new Float32Array(g.dataSync() as Float32Array) : new Float32Array(v.size);
    });
    return { grads: out, nllSum: (value.dataSync() as Float32Array)[0] as number };
  } finally {
    value.dispose();
    tf.dispose(Object.values(grads));
  }
}

/** Σ NLL and token count of a batch under the adapter, without dropout or gradients (evaluation). */
export function batchNll(model: LlamaModel, lora: LoraRuntime, batch: LabelledBatch): number {
  const t = responseNllSum(model, batch, lora.hook());
  const v = (t.dataSync() as Float32Array)[0] as number;
  t.dispose();
  return v;
}

/** Tokens that carry loss in a batch (label at t ≥ 1 not -100, the HF shift). */
export function lossTokenCount(batch: LabelledBatch): number {
  let n = 0;
  for (const row of batch.labels) for (let t = 1; t < row.length; t++) if (row[t] !== -100) n += 1;
  return n;
}

/** Non-padding tokens of a batch. */
export function inputTokenCount(batch: LabelledBatch): number {
  return batch.inputIds.reduce((n, r) => n + r.length, 0);
}
