import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from './load.js';
import { adapterOptions, forwardHidden, prependedPositions, type ForwardAdapter } from './llama.js';

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

/**
 * Memory/speed trade-off of the loss head. `keepGradValues`: up to this many values of dNLL/dlogits (rows × vocab;
 * default 64 Mi = 256 MB) are kept from the forward pass for the backward one; beyond it the backward pass
 * recomputes each chunk's logits instead (one more head matMul).
 */
export const lossTuning = { keepGradValues: 64 * 1024 * 1024 };

const chunkRows = (V: number) => Math.max(1, Math.floor(LOGIT_CHUNK_VALUES / V));

/**
 * NLL rows of one chunk of logits [n, V] and, on request, its softmax. −log p(target) = max − x_target − log(p_max):
 * exact, never underflows (p_max ≥ 1/V), and rides on wasm's native Softmax instead of its slow elementwise Exp.
 */
function chunkNll(logits: tf.Tensor2D, targets: number[]): { nll: tf.Tensor1D; probs: tf.Tensor2D } {
  const [n, V] = logits.shape;
  const probs = tf.softmax(logits);
  const at = targets.map((t, r) => r * V + t);
  const target = tf.gather(tf.reshape(logits, [n * V]), tf.tensor1d(at, 'int32'));
  const nll = tf.sub(tf.sub(tf.max(logits, 1), target), tf.log(tf.max(probs, 1))) as tf.Tensor1D;
  return { nll, probs };
}

/** Rows [start, start + n) of x, via the (patched, copy-only-the-slice) Slice kernel. */
const rowsOf = (x: tf.Tensor2D, start: number, n: number): tf.Tensor2D => (start === 0 && n === x.shape[0] ? x : tf.slice(x, [start, 0], [n, -1]));

/** Per-row NLL −log softmax(h·Wᵀ)[target] [M], computed chunk by chunk (no gradient). */
export function headNll(model: LlamaModel, hidden: tf.Tensor2D, targets: number[]): tf.Tensor1D {
  const M = hidden.shape[0];
  const chunk = chunkRows(model.config.vocabSize);
  const parts: tf.Tensor1D[] = [];
  for (let start = 0; start < M; start += chunk) {
    const n = Math.min(chunk, M - start);
    parts.push(tf.tidy(() => chunkNll(headLogits(model, rowsOf(hidden, start, n)), targets.slice(start, start + n)).nll));
  }
  if (parts.length === 1) return parts[0]!;
  const out = tf.concat(parts);
  tf.dispose(parts);
  return out;
}

/**
 * Logits of rows h inside a custom gradient (whose backward pass is written out): plain matMuls against the head
 * blocks, without frozenMatMul's own gradient op.
 */
function headLogits(model: LlamaModel, h: tf.Tensor2D): tf.Tensor2D {
  const { blocks } = model.head;
  if (blocks.length === 1) return tf.matMul(h, blocks[0]!.wT);
  return tf.concat(blocks.map((b) => tf.matMul(h, b.wT)), 1) as tf.Tensor2D;
}

/** dNLL/dlogits of a chunk: softmax − onehot(target). */
function logitGrad(probs: tf.Tensor2D, targets: number[]): tf.Tensor2D {
  // wasm's OneHot returns all zeros when asked for float32 directly, so build it as int32 and cast.
  const onehot = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), probs.shape[1]), 'float32');
  return tf.sub(probs, onehot);
}

/**
 * Σ NLL over rows, differentiable w.r.t. `hidden`: d/dh = (softmax − onehot)·W, with W [V, H] in the fast layout
 * when training. The forward pass keeps softmax − onehot when it fits lossTuning.keepGradValues (no second head matMul);
 * otherwise the backward pass recomputes it chunk by chunk, never holding [M, V] at once.
 */
function headNllSum(model: LlamaModel, hidden: tf.Tensor2D, targets: number[]): tf.Scalar {
  const V = model.config.vocabSize;
  const chunk = chunkRows(V);
  const keep = hidden.shape[0] * V <= lossTuning.keepGradValues;
  // dh = dLogits·W, summed over vocabulary blocks (W [V, H] in the fast layout when training).
  const { blocks, starts } = model.head;
  const blockBackward = (d: tf.Tensor2D, b: number): tf.Tensor2D => {
    const { w, wT } = blocks[b]!;
    return w ? tf.matMul(d, w) : tf.matMul(d, wT, false, true);
  };
  const backward = (dLogits: tf.Tensor2D): tf.Tensor2D => {
    if (blocks.length === 1) return blockBackward(dLogits, 0);
    let sum: tf.Tensor2D | null = null;
    blocks.forEach((blk, b) => {
      const part = blockBackward(tf.slice(dLogits, [0, starts[b]!], [-1, blk.outFeatures]), b);
      sum = sum ? (tf.add(sum, part) as tf.Tensor2D) : part;
    });
    return sum!;
  };
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const h = args[0] as tf.Tensor2D;
    const M = h.shape[0];
    const nlls: tf.Tensor1D[] = [];
    const grads: tf.Tensor2D[] = [];
    for (let start = 0; start < M; start += chunk) {
      const n = Math.min(chunk, M - start);
      const t = targets.slice(start, start + n);
      const { nll, probs } = chunkNll(headLogits(model, rowsOf(h, start, n)), t);
      nlls.push(nll);
      if (keep) grads.push(logitGrad(probs, t));
    }
    (args[1] as tf.GradSaveFunc)(keep ? grads : [h]);
    return {
      value: tf.sum(nlls.length === 1 ? nlls[0]! : tf.concat(nlls)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const parts: tf.Tensor2D[] = [];
        if (keep) for (const g of saved) parts.push(backward(g as tf.Tensor2D));
        else {
          const hs = saved[0] as tf.Tensor2D;
          for (let start = 0; start < hs.shape[0]; start += chunk) {
            const n = Math.min(chunk, hs.shape[0] - start);
            const t = targets.slice(start, start + n);
            parts.push(tf.tidy(() => backward(logitGrad(tf.softmax(headLogits(model, rowsOf(hs, start, n))), t))));
          }
        }
        const g = parts.length === 1 ? parts[0]! : tf.concat(parts);
        return tf.mul(g, dy);
      },
    };
  });
  return op(hidden) as tf.Scalar;
}

interface Prepared {
  ids: tf.Tensor2D;
  /** [B][T] attention mask (host data: see ForwardOptions.attentionMask). */
  mask: number[][];
  T: number;
  /** Flat row (b·T + t − 1) of each labelled position t, its target, and its example. */
  rows: number[];
  targets: number[];
  example: number[];
}

/**
 * `virtual`: positions an adapter prepends (prompt tuning, P-tuning). PEFT prepends −100 labels for them, so the
 * hidden rows shift by that many and the last virtual position predicts the first real label.
 */
function prepare(model: LlamaModel, batch: LabelledBatch, virtual = 0): Prepared {
  const B = batch.inputIds.length;
  if (B === 0 || batch.labels.length !== B) throw new TypeError(`loss: batch needs as many label rows as input rows (got ${B} and ${batch.labels.length})`);
  const T = Math.max(...batch.inputIds.map((r) => r.length));
  const pad = model.tokenizer.padId;
  const ids = new Int32Array(B * T).fill(pad);
  const mask = batch.inputIds.map((seq) => Array.from({ length: T }, (_, t) => (t < seq.length ? 1 : 0)));
  const rows: number[] = [];
  const targets: number[] = [];
  const example: number[] = [];
  batch.inputIds.forEach((seq, b) => {
    const lab = batch.labels[b]!;
    if (lab.length !== seq.length) throw new TypeError(`loss: example ${b} has ${seq.length} ids but ${lab.length} labels`);
    seq.forEach((id, t) => (ids[b * T + t] = id));
    // transformers' shift: logits at t−1 predict labels[t].
    for (let t = virtual > 0 ? 0 : 1; t < seq.length; t++) {
      const y = lab[t]!;
      if (y === IGNORE_INDEX) continue;
      rows.push(b * (T + virtual) + virtual + t - 1);
      targets.push(y);
      example.push(b);
    }
  });
  return { ids: tf.tensor2d(ids, [B, T], 'int32'), mask, T, rows, targets, example };
}

/**
 * Sum of token NLL (nats) over labelled positions, right padding masked. Differentiable: call it inside
 * tf.variableGrads with an adapter (LoRA hook or virtual tokens) whose variables you want gradients for.
 */
export function responseNllSum(model: LlamaModel, batch: LabelledBatch, adapter?: ForwardAdapter): tf.Scalar {
  const p = prepare(model, batch, prependedPositions(adapter));
  try {
    return tf.tidy(() => {
      const hidden = forwardHidden(model, p.ids, { attentionMask: p.mask, ...adapterOptions(adapter) });
      // A batch whose labels were all truncated away still returns a loss connected to the LoRA variables (zero,
      // with zero gradients) so tf.variableGrads does not throw.
      if (p.rows.length === 0) return tf.mul(tf.sum(hidden), 0) as tf.Scalar;
      const flat = tf.reshape(hidden, [-1, model.config.hiddenSize]) as tf.Tensor2D;
      return headNllSum(model, selectRows(flat, p.rows), p.targets);
    });
  } finally {
    p.ids.dispose();
  }
}

/**
 * Per example: summed NLL over its labelled positions and how many there are (no gradient; for scoring).
 * Asynchronous because that is the only way to read a tensor back from a GPU backend.
 */
export async function perExampleNll(model: LlamaModel, batch: LabelledBatch, adapter?: ForwardAdapter): Promise<Array<{ nllSum: number; tokens: number }>> {
  const p = prepare(model, batch, prependedPositions(adapter));
  const out = batch.inputIds.map(() => ({ nllSum: 0, tokens: 0 }));
  try {
    if (p.rows.length === 0) return out;
    const nll = tf.tidy(() => {
      const hidden = forwardHidden(model, p.ids, { attentionMask: p.mask, ...adapterOptions(adapter) });
      const flat = tf.reshape(hidden, [-1, model.config.hiddenSize]) as tf.Tensor2D;
      return headNll(model, tf.gather(flat, tf.tensor1d(p.rows, 'int32')), p.targets);
    });
    let values: Float32Array;
    try {
      values = (await nll.data()) as Float32Array;
    } finally {
      nll.dispose();
    }
    p.example.forEach((b, i) => {
      out[b]!.nllSum += values[i]!;
      out[b]!.tokens += 1;
    });
    return out;
  } finally {
    p.ids.dispose();
  }
}
