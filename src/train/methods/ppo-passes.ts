import * as tf from '@tensorflow/tfjs';
import { forwardHidden, lmHead, type LoraHook } from '../../model/llama.js';
import type { LlamaModel } from '../../model/load.js';
import { selectRows } from '../../model/loss.js';
import { leanVariableGrads } from '../engines/lean-grads.js';
import type { ClipSettings } from './ppo-math.js';

/** A prompt and a sampled response (the tokens the policy chose, its stop token included). */
export interface PolicySequence {
  promptIds: readonly number[];
  response: readonly number[];
}

/** The value head on the policy's final hidden states (TRL's ValueHead: v_head.summary, Linear(hidden, 1)). */
export interface ValueHead {
  w: tf.Tensor; // [H]
  b: tf.Tensor; // [1]
}

/** Per response token, in sequence order: log π(token) at the sampling temperature, the entropy, the value. */
export interface ResponseTensors {
  logprobs: tf.Tensor1D;
  entropy: tf.Tensor1D;
  values: tf.Tensor1D | null;
}

/**
 * One forward pass over prompt + response rows (right-padded): at each response token, the hidden state of the
 * position before it gives the token's log-probability (logits ÷ temperature, as the sampler drew it and as TRL
 * scores it), the distribution's entropy, and the value head's estimate (TRL aligns values with the log-probs the
 * same way). Only response rows go through the LM head.
 */
export function responseTensors(model: LlamaModel, seqs: readonly PolicySequence[], temperature: number, lora: LoraHook | undefined, head: ValueHead | null): ResponseTensors {
  const H = model.config.hiddenSize;
  const V = model.config.vocabSize;
  const full = seqs.map((s) => [...s.promptIds, ...s.response]);
  const T = Math.max(...full.map((s) => s.length));
  const pad = model.tokenizer.padId;
  const rows: number[] = [];
  const targets: number[] = [];
  seqs.forEach((s, b) => s.response.forEach((id, t) => (rows.push(b * T + s.promptIds.length - 1 + t), targets.push(id))));
  const ids = tf.tensor2d(full.map((s) => [...s, ...new Array<number>(T - s.length).fill(pad)]), [seqs.length, T], 'int32');
  const mask = full.map((s) => Array.from({ length: T }, (_, t) => (t < s.length ? 1 : 0)));
  try {
    const out = tf.tidy(() => {
      const hidden = forwardHidden(model, ids, { attentionMask: mask, ...(lora ? { lora } : {}) });
      const h = selectRows(tf.reshape(hidden, [-1, H]) as tf.Tensor2D, rows);
      const logSoftmax = tf.logSoftmax(tf.div(lmHead(model, h), temperature));
      // wasm's OneHot gives zeros when asked for float32 directly, and gather has no gradient there: a masked sum.
      const onehot = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), V), 'float32');
      const logprobs = tf.sum(tf.mul(logSoftmax, onehot), 1) as tf.Tensor1D;
      const entropy = tf.neg(tf.sum(tf.mul(tf.exp(logSoftmax), logSoftmax), 1)) as tf.Tensor1D;
      const values = head ? (tf.add(tf.reshape(tf.matMul(h, tf.reshape(head.w, [H, 1])), [rows.length]), head.b) as tf.Tensor1D) : null;
      return values ? [logprobs, entropy, values] : [logprobs, entropy];
    });
    return { logprobs: out[0]!, entropy: out[1]!, values: out[2] ?? null };
  } finally {
    ids.dispose();
  }
}

/** Per response token of each sequence, as host arrays. */
export interface ResponseNumbers {
  logprobs: Float32Array[];
  entropy: Float32Array[];
  values: Float32Array[] | null;
}

/** Splits flat per-token arrays into one per sequence. */
function perSequence(flat: Float32Array, seqs: readonly PolicySequence[]): Float32Array[] {
  let at = 0;
  return seqs.map((s) => flat.slice(at, (at += s.response.length)));
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  return new Float32Array((await t.data()) as Float32Array);
}

/** responseTensors without a gradient, read back (asynchronously: a GPU backend cannot read synchronously). */
export async function responseNumbers(model: LlamaModel, seqs: readonly PolicySequence[], temperature: number, lora: LoraHook | undefined, head: ValueHead | null): Promise<ResponseNumbers> {
  const r = responseTensors(model, seqs, temperature, lora, head);
  try {
    return {
      logprobs: perSequence(await read(r.logprobs), seqs),
      entropy: perSequence(await read(r.entropy), seqs),
      values: r.values ? perSequence(await read(r.values), seqs) : null,
    };
  } finally {
    tf.dispose([r.logprobs, r.entropy, ...(r.values ? [r.values] : [])]);
  }
}

/** What the update needs of each sequence's tokens, fixed at rollout time. */
export interface UpdateTargets {
  oldLogprobs: ArrayLike<number>;
  advantages: ArrayLike<number>;
  /** PPO only: the value head at rollout time and the GAE returns */
  oldValues?: ArrayLike<number>;
  returns?: ArrayLike<number>;
}

/**
 * The gradient of this micro-batch's share of the PPO loss (clipped surrogate + valueCoef · clipped value loss,
 * each summed over its tokens ÷ `tokensInBatch`, so micro-batches add up to TRL's masked mean over the batch),
 * w.r.t. `vars`, with the numbers the pass saw (new log-probs, entropies, values) for the step's statistics.
 */
export async function ppoGradients(
  model: LlamaModel,
  seqs: readonly PolicySequence[],
  targets: readonly UpdateTargets[],
  opts: { temperature: number; lora: LoraHook; head: ValueHead | null; vars: tf.Variable[]; clip: ClipSettings; tokensInBatch: number },
): Promise<{ grads: Float32Array[]; loss: number; seen: ResponseNumbers }> {
  const flat = (f: (t: UpdateTargets) => ArrayLike<number> | undefined) => tf.tensor1d(targets.flatMap((t) => Array.from(f(t) ?? [])), 'float32');
  const old = flat((t) => t.oldLogprobs);
  const adv = flat((t) => t.advantages);
  const oldValues = opts.head ? flat((t) => t.oldValues) : null;
  const returns = opts.head ? flat((t) => t.returns) : null;
  const { clip, tokensInBatch } = opts;
  let kept: tf.Tensor[] = [];
  try {
    const { value, grads } = leanVariableGrads(() => {
      const r = responseTensors(model, seqs, opts.temperature, opts.lora, opts.head);
      // Copies the statistics read after the backward pass (which frees what the tape saved).
      kept = [r.logprobs, r.entropy, ...(r.values ? [r.values] : [])].map((t) => tf.keep(tf.clone(t)));
      const ratio = tf.exp(tf.sub(r.logprobs, old));
      // The larger of the two losses: tf.maximum sends the gradient to the unclipped term on a tie (ratio 1).
      const pg = tf.maximum(tf.neg(tf.mul(adv, ratio)), tf.neg(tf.mul(adv, tf.clipByValue(ratio, 1 - clip.clip, 1 + clip.clip))));
      let total = tf.sum(pg);
      if (r.values && oldValues && returns) {
        const vClipped = tf.add(oldValues, tf.clipByValue(tf.sub(r.values, oldValues), -clip.clipValue, clip.clipValue));
        const vf = tf.maximum(tf.square(tf.sub(r.values, returns)), tf.square(tf.sub(vClipped, returns)));
        total = tf.add(total, tf.mul(tf.sum(vf), 0.5 * clip.valueCoef));
      }
      return tf.div(total, tokensInBatch) as tf.Scalar;
    }, opts.vars);
    try {
      const loss = ((await value.data()) as Float32Array)[0]!;
      const g = await Promise.all(grads.map(read));
      const [lp, ent, vals] = await Promise.all(kept.map(read));
      return { grads: g, loss, seen: { logprobs: perSequence(lp!, seqs), entropy: perSequence(ent!, seqs), values: vals ? perSequence(vals, seqs) : null } };
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  } finally {
    tf.dispose([old, adv, ...(oldValues ? [oldValues] : []), ...(returns ? [returns] : []), ...kept]);
  }
}
