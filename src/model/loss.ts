import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from './load.js';
import { forwardHidden, type LoraHook } from './llama.js';

/** Label value that takes no part in the loss (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

export interface LabelledBatch {
  inputIds: number[][];
  labels: number[][];
}

// Logits are computed this many values at a time (rows × vocab), so a 49k-vocabulary head over 1,000 response
// tokens never materialises 200 MB at once.
const LOGIT_CHUNK_VALUES = 4 * 1024 * 1024;

/** Rows x[idx] with a gradient that scatters back (wasm has no UnsortedSegmentSum, gather's default gradient). */
export function selectRows(x: tf.Tensor2D, idx: number[]): tf.Tensor2D {
  const [rows, cols] = x.shape;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.gather(args[0] as tf.Tensor, tf.tensor1d(idx, 'int32')),
    gradFunc: (dy: tf.Tensor) => tf.scatterND(tf.tensor2d(idx, [idx.length, 1], 'int32'), dy, [rows, cols]),
  }));
  return op(x) as tf.Tensor2D;
}

/** Per-row NLL −log softmax(h·Wᵀ)[target] [M], computed chunk by chunk (no gradient). */
export function headNll(model: LlamaModel, hidden: tf.Tensor2D, targets: number[]): tf.Tensor1D {
  const V = model.config.vocabSize;
  const M = hidden.shape[0];
  const chunk = Math.max(1, Math.floor(LOGIT_CHUNK_VALUES / V));
  const parts: tf.Tensor1D[] = [];
  for (let start = 0; start < M; start += chunk) {
    const n = Math.min(chunk, M - start);
    parts.push(
      tf.tidy(() => {
        const h = tf.slice(hidden, [start, 0], [n, -1]);
        const logits = tf.matMul(h, model.head.wT);
        const flat = tf.reshape(logits, [n * V]);
        const at = targets.slice(start, start + n).map((t, r) => r * V + t);
        const target = tf.gather(flat, tf.tensor1d(at, 'int32'));
        return tf.sub(tf.logSumExp(logits, 1), target) as tf.Tensor1D;
      }),
    );
  }
  if (parts.length === 1) return parts[0]!;
  const out = tf.concat(parts);
  tf.dispose(parts);
  return out;
}

/**
 * Σ NLL over rows, differentiable w.r.t. `hidden`. The backward pass recomputes each chunk's softmax instead of
 * keeping [M, V] activations: d/dh = (softmax − onehot)·W, with W [V, H] in the fast layout when training.
 */
function headNllSum(model: LlamaModel, hidden: tf.Tensor2D, targets: number[]): tf.Scalar {
  const V = model.config.vocabSize;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const h = args[0] as tf.Tensor2D;
    (args[1] as tf.GradSaveFunc)([h]);
    return {
      value: tf.sum(headNll(model, h, targets)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const hs = saved[0] as tf.Tensor2D;
        const M = hs.shape[0];
        const chunk = Math.max(1, Math.floor(LOGIT_CHUNK_VALUES / V));
        const grads: tf.Tensor2D[] = [];
        for (let start = 0; start < M; start += chunk) {
          const n = Math.min(chunk, M - start);
          grads.push(
            tf.tidy(() => {
              const part = tf.slice(hs, [start, 0], [n, -1]);
              const probs = tf.softmax(tf.matMul(part, model.head.wT));
              // wasm's OneHot returns all zeros when asked for float32 directly, so build it as int32 and cast.
              const onehot = tf.cast(tf.oneHot(tf.tensor1d(targets.slice(start, start + n), 'int32'), V), 'float32');
              const dLogits = tf.sub(probs, onehot);
              const w = model.head.w;
              return w ? tf.matMul(dLogits, w) : tf.matMul(dLogits, model.head.wT, false, true);
            }),
          );
        }
        const g = grads.length === 1 ? grads[0]! : tf.concat(grads);
        return tf.mul(g, dy);
      },
    };
  });
  return op(hidden) as tf.Scalar;
}

interface Prepared {
  ids: tf.Tensor2D;
  mask: tf.Tensor2D;
  T: number;
  /** Flat row (b·T + t − 1) of each labelled position t, its target, and its example. */
  rows: number[];
  targets: number[];
  example: number[];
}

function prepare(model: LlamaModel, batch: LabelledBatch): Prepared {
  const B = batch.inputIds.length;
  if (B === 0 || batch.labels.length !== B) throw new TypeError(`loss: batch needs as many label rows as input rows (got ${B} and ${batch.labels.length})`);
  const T = Math.max(...batch.inputIds.map((r) => r.length));
  const pad = model.tokenizer.padId;
  const ids = new Int32Array(B * T).fill(pad);
  const mask = new Int32Array(B * T);
  const rows: number[] = [];
  const targets: number[] = [];
  const example: number[] = [];
  batch.inputIds.forEach((seq, b) => {
    const lab = batch.labels[b]!;
    if (lab.length !== seq.length) throw new TypeError(`loss: example ${b} has ${seq.length} ids but ${lab.length} labels`);
    seq.forEach((id, t) => {
      ids[b * T + t] = id;
      mask[b * T + t] = 1;
    });
    // transformers' shift: logits at t−1 predict labels[t].
    for (let t = 1; t < seq.length; t++) {
      const y = lab[t]!;
      if (y === IGNORE_INDEX) continue;
      rows.push(b * T + t - 1);
      targets.push(y);
      example.push(b);
    }
  });
  return { ids: tf.tensor2d(ids, [B, T], 'int32'), mask: tf.tensor2d(mask, [B, T], 'int32'), T, rows, targets, example };
}

/**
 * Sum of token NLL (nats) over labelled positions, right padding masked. Differentiable: call it inside
 * tf.variableGrads with a LoRA hook whose variables you want gradients for.
 */
export function responseNllSum(model: LlamaModel, batch: LabelledBatch, lora?: LoraHook): tf.Scalar {
  const p = prepare(model, batch);
  try {
    return tf.tidy(() => {
      const hidden = forwardHidden(model, p.ids, { attentionMask: p.mask, ...(lora ? { lora } : {}) });
      // A batch whose labels were all truncated away still returns a loss connected to the LoRA variables (zero,
      // with zero gradients) so tf.variableGrads does not throw.
      if (p.rows.length === 0) return tf.mul(tf.sum(hidden), 0) as tf.Scalar;
      const flat = tf.reshape(hidden, [-1, model.config.hiddenSize]) as tf.Tensor2D;
      return headNllSum(model, selectRows(flat, p.rows), p.targets);
    });
  } finally {
    tf.dispose([p.ids, p.mask]);
  }
}

/** Per example: summed NLL over its labelled positions and how many there are (no gradient; for scoring). */
export function perExampleNll(model: LlamaModel, batch: LabelledBatch, lora?: LoraHook): Array<{ nllSum: number; tokens: number }> {
  const p = prepare(model, batch);
  const out = batch.inputIds.map(() => ({ nllSum: 0, tokens: 0 }));
  try {
    if (p.rows.length === 0) return out;
    const nll = tf.tidy(() => {
      const hidden = forwardHidden(model, p.ids, { attentionMask: p.mask, ...(lora ? { lora } : {}) });
      const flat = tf.reshape(hidden, [-1, model.config.hiddenSize]) as tf.Tensor2D;
      return headNll(model, tf.gather(flat, tf.tensor1d(p.rows, 'int32')), p.targets);
    });
    const values = nll.dataSync();
    nll.dispose();
    p.example.forEach((b, i) => {
      out[b]!.nllSum += values[i]!;
      out[b]!.tokens += 1;
    });
    return out;
  } finally {
    tf.dispose([p.ids, p.mask]);
  }
}
