import * as tf from '@tensorflow/tfjs';
import type { LoraHook } from '../../model/llama.js';
import { forwardHidden } from '../../model/llama.js';
import type { LlamaModel } from '../../model/load.js';

/** HF LlamaForSequenceClassification's head: `score`, a bias-free Linear(hidden, num_labels = 1). */
export const SCORE_WEIGHT = 'score.weight';

/**
 * The position whose hidden state is scored: the last token that is not the pad id, as transformers'
 * *ForSequenceClassification picks it (with pad = EOS, that is the token before the EOS).
 */
export function scoredPosition(ids: readonly number[], padId: number): number {
  for (let t = ids.length - 1; t >= 0; t--) if (ids[t] !== padId) return t;
  return ids.length - 1;
}

/** Rewards [B] of a batch: the final hidden state at each row's scored position · w (right padding masked). */
export function rewardTensor(model: LlamaModel, seqs: readonly (readonly number[])[], w: tf.Tensor, lora?: LoraHook): tf.Tensor1D {
  const pad = model.tokenizer.padId;
  const T = Math.max(...seqs.map((s) => s.length));
  const ids = tf.tensor2d(seqs.map((s) => [...s, ...new Array<number>(T - s.length).fill(pad)]), [seqs.length, T], 'int32');
  const mask = seqs.map((s) => Array.from({ length: T }, (_, t) => (t < s.length ? 1 : 0)));
  try {
    return tf.tidy(() => {
      const hidden = forwardHidden(model, ids, { attentionMask: mask, ...(lora ? { lora } : {}) });
      const H = model.config.hiddenSize;
      const rows = seqs.map((s, b) => tf.slice(hidden, [b, scoredPosition(s, pad), 0], [1, 1, H]));
      const last = tf.reshape(rows.length === 1 ? rows[0]! : tf.concat(rows, 0), [seqs.length, H]) as tf.Tensor2D;
      return tf.reshape(tf.matMul(last, tf.reshape(w, [H, 1])), [seqs.length]) as tf.Tensor1D;
    });
  } finally {
    ids.dispose();
  }
}

/** Rewards of sequences, a few at a time, no gradient. */
export async function sequenceRewards(model: LlamaModel, seqs: readonly (readonly number[])[], w: tf.Tensor, lora?: LoraHook, batch = 8): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < seqs.length; i += batch) {
    const r = rewardTensor(model, seqs.slice(i, i + batch), w, lora);
    try {
      out.push(...((await r.data()) as Float32Array));
    } finally {
      r.dispose();
    }
    await new Promise((done) => setImmediate(done));
  }
  return out;
}
