import * as tf from '@tensorflow/tfjs';
import { constantScalar } from './lean-ops.js';

/**
 * Scaled dot-product attention with grouped-query heads, forward and backward on plain (untransposed) matMuls.
 *
 * Why not tf.matMul on rank-4 tensors: on the wasm backend a batched matMul runs at ~1.7 GFLOP/s against ~30 for
 * a 2-D one (measured, bench/forward.ts), and tfjs's own gradient of it uses transposed operands (another ~10x).
 * So each (batch row, KV head) group is one 2-D matMul, and the backward pass transposes explicitly (cheap copies)
 * so that its matMuls are plain too. Query heads h·rep … h·rep+rep−1 share KV head h (transformers' repeat_kv), so a
 * group's queries are the [rep·T, hd] rows of those heads and no K/V is copied.
 */

export interface AttentionDims {
  batch: number;
  /** Query positions in this call. */
  queryLen: number;
  /** Key positions (cached + new). */
  keyLen: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/**
 * Additive mask values (0 or −1e9) broadcastable to [B, nh, T, S] as plain data. The forward pass uploads it once
 * and hands every layer the tensor; attention() keeps it for its backward pass.
 */
export interface AttentionMask {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** Per-group 2-D matMuls: a [G, m, k] × b [G, k, n] → [G, m, n]. */
function groupMatMul(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (!perGroup()) return tf.matMul(a, b);
  const as = tf.unstack(a) as tf.Tensor2D[];
  const bs = tf.unstack(b) as tf.Tensor2D[];
  return tf.stack(as.map((x, i) => tf.matMul(x, bs[i]!))) as tf.Tensor3D;
}

// Backends with fast batched matMuls (GPU, libtensorflow) keep one batched call; wasm/cpu loop over 2-D ones.
const perGroup = (): boolean => {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu';
};

const swapLast = (x: tf.Tensor3D): tf.Tensor3D => tf.transpose(x, [0, 2, 1]);

/**
 * q [B, T, nh, hd] (RoPE applied), kT [B, KV, hd, S], v [B, KV, S, hd], additive mask (or null) → context
 * [B·T, nh·hd]. Differentiable w.r.t. q, kT and v. The backward pass keeps only q, k and v and recomputes the
 * attention probabilities ([B, nh, T, S]: 9 MB per layer at 4 × 256 tokens, 4x that at 512) from them.
 */
export function attention(q: tf.Tensor4D, kT: tf.Tensor4D, v: tf.Tensor4D, mask: AttentionMask | tf.Tensor4D | null, d: AttentionDims): tf.Tensor2D {
  const { batch: B, queryLen: T, keyLen: S, numHeads: nh, numKvHeads: kv, headDim: hd } = d;
  const rep = nh / kv;
  const G = B * kv;
  const scale = 1 / Math.sqrt(hd);
  const groupsOfQ = (x: tf.Tensor4D) => tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [G, rep * T, hd]) as tf.Tensor3D;
  const fromGroups = (x: tf.Tensor3D) => tf.transpose(tf.reshape(x, [B, nh, T, hd]), [0, 2, 1, 3]) as tf.Tensor4D;

  const probsOf = (qg: tf.Tensor3D, kg: tf.Tensor3D, m: tf.Tensor | null): tf.Tensor3D => {
    let scores = tf.reshape(tf.mul(groupMatMul(qg, kg), constantScalar(scale)), [B, nh, T, S]);
    if (m) scores = tf.add(scores, m);
    return tf.reshape(tf.softmax(scores), [G, rep * T, S]) as tf.Tensor3D;
  };

  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [qIn, kIn, vIn] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const save = args[3] as tf.GradSaveFunc;
    const qg = groupsOfQ(qIn);
    const kg = tf.reshape(kIn, [G, hd, S]) as tf.Tensor3D;
    const vg = tf.reshape(vIn, [G, S, hd]) as tf.Tensor3D;
    // The mask is uploaded once per pass (or here, from plain data) and kept for the backward pass, shared.
    const maskT = mask === null ? null : mask instanceof tf.Tensor ? mask : tf.tensor4d(mask.data, mask.shape);
    save(maskT ? [qg, kg, vg, maskT] : [qg, kg, vg]);
    const ctx = fromGroups(groupMatMul(probsOf(qg, kg, maskT), vg));
    return {
      value: tf.reshape(ctx, [B * T, nh * hd]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sm] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor4D | undefined];
        const sp = probsOf(sq, sk, sm ?? null);
        const dOut = groupsOfQ(tf.reshape(dy, [B, T, nh, hd]) as tf.Tensor4D);
        const dProbs = groupMatMul(dOut, swapLast(sv));
        // Softmax backward: dS = P ⊙ (dP − Σ_j dP·P), then the 1/√hd of the scores.
        const dScores = tf.mul(tf.mul(sp, tf.sub(dProbs, tf.sum(tf.mul(dProbs, sp), -1, true))), constantScalar(scale)) as tf.Tensor3D;
        const dq = fromGroups(groupMatMul(dScores, swapLast(sk)));
        const dkT = tf.reshape(groupMatMul(swapLast(sq), dScores), [B, kv, hd, S]);
        const dv = tf.reshape(groupMatMul(swapLast(sp), dOut), [B, kv, S, hd]);
        return [dq, dkT, dv];
      },
    };
  });
  return op(q, kT, v) as tf.Tensor2D;
}
