import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../../model/load.js';
import { responseNllSum, type LabelledBatch } from '../../model/loss.js';
import type { AdapterRuntime } from '../adapters/adapter-runtime.js';
import { leanVariableGrads } from './lean-grads.js';
import { mixSeed } from '../rng.js';

export interface MicroBatch extends LabelledBatch {
  /** seed of this micro-batch's dropout masks; a function of (run seed, step, micro-batch index) */
  dropoutSeed: number;
}

export interface MicroBatchGradients {
  /** d(Σ NLL)/dθ for every LoRA variable, in variable order (not yet divided by the step's token count) */
  grads: Float32Array[];
  nllSum: number;
}

/**
 * Forward + backward of one micro-batch; reads the gradients out of the backend and frees everything else.
 * A micro-batch larger than `maxPassTokens` (padded tokens) runs as several passes whose gradients are added:
 * the result is the same sum, only the peak memory is smaller (wasm's heap stops at 4 GB).
 */
export async function microBatchGradients(model: LlamaModel, lora: AdapterRuntime, mb: MicroBatch, opts: { maxPassTokens?: number } = {}): Promise<MicroBatchGradients> {
  const passes = splitIntoPasses(mb, opts.maxPassTokens ?? Infinity);
  if (passes.length === 1) return passGradients(model, lora, mb);
  const sums = lora.variables.map((v) => new Float64Array(v.size));
  let nllSum = 0;
  for (const pass of passes) {
    const r = await passGradients(model, lora, pass);
    r.grads.forEach((g, k) => {
      const s = sums[k] as Float64Array;
      for (let i = 0; i < g.length; i++) s[i] = (s[i] as number) + (g[i] as number);
    });
    nllSum += r.nllSum;
  }
  return { grads: sums.map((s) => Float32Array.from(s)), nllSum };
}

/** Σ NLL and its gradients of one pass, left on the backend (the caller disposes them). */
export function passGradientTensors(model: LlamaModel, lora: AdapterRuntime, mb: MicroBatch): { value: tf.Scalar; grads: tf.Tensor[] } {
  const hook = lora.hook({ dropoutSeed: mb.dropoutSeed });
  return leanVariableGrads(() => responseNllSum(model, { inputIds: mb.inputIds, labels: mb.labels }, hook), lora.variables);
}

async function passGradients(model: LlamaModel, lora: AdapterRuntime, mb: MicroBatch): Promise<MicroBatchGradients> {
  const { value, grads } = passGradientTensors(model, lora, mb);
  try {
    // Asynchronous reads: tfjs-backend-webgpu cannot read synchronously in Node (readSync needs OffscreenCanvas).
    const data = await Promise.all(grads.map((g) => g.data()));
    return { grads: data.map((d) => new Float32Array(d as Float32Array)), nllSum: ((await value.data()) as Float32Array)[0] as number };
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
}

/**
 * Consecutive groups of examples whose padded size (count × longest) stays within the budget, at least one
 * example each. Each pass gets its own dropout seed derived from the micro-batch's and its first example's index.
 */
export function splitIntoPasses(mb: MicroBatch, maxPassTokens: number): MicroBatch[] {
  const passes: MicroBatch[] = [];
  let start = 0;
  while (start < mb.inputIds.length) {
    let end = start + 1;
    let longest = (mb.inputIds[start] as number[]).length;
    while (end < mb.inputIds.length) {
      const next = Math.max(longest, (mb.inputIds[end] as number[]).length);
      if (next * (end - start + 1) > maxPassTokens) break;
      longest = next;
      end += 1;
    }
    passes.push({
      inputIds: mb.inputIds.slice(start, end),
      labels: mb.labels.slice(start, end),
      dropoutSeed: start === 0 && end === mb.inputIds.length ? mb.dropoutSeed : mixSeed(mb.dropoutSeed, start),
    });
    start = end;
  }
  return passes;
}

/** Σ NLL and token count of a batch under the adapter, without dropout or gradients (evaluation). */
export async function batchNll(model: LlamaModel, lora: AdapterRuntime, batch: LabelledBatch): Promise<number> {
  const t = responseNllSum(model, batch, lora.hook());
  try {
    return ((await t.data()) as Float32Array)[0] as number;
  } finally {
    t.dispose();
  }
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

// Lives with the backends it explains; re-exported for the trainer's existing imports.
export { explainBackendError } from '../../model/backend-error.js';
