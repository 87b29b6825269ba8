import * as tf from '@tensorflow/tfjs';

/**
 * RMSNorm, SwiGLU and RoPE with hand-written gradients that keep only their inputs for the backward pass.
 *
 * Built from elementary ops, tfjs's tape keeps a copy of every intermediate each op's gradient needs: SwiGLU kept
 * ~5 [N, intermediate] tensors and each RMSNorm ~5 [N, hidden] ones, per layer. Training a 30-layer model on the
 * wasm backend (4 GB heap) ran out of room on those alone; these versions keep 2, 1 and 0 tensors respectively
 * and recompute the cheap rest in the backward pass.
 */

const constants = new Map<string, tf.Scalar>();

/**
 * A float32 scalar kept on the running backend, made once per (backend, value): `tf.mul(x, 0.5)` uploads a new
 * one-number tensor at every call, which on a GPU is a staging buffer and a copy per op (~15 per layer and step).
 */
export function constantScalar(value: number): tf.Scalar {
  const key = `${tf.getBackend()}:${value}`;
  let t = constants.get(key);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.scalar(value));
    constants.set(key, t);
  }
  return t;
}

/** transformers' LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · weight, over the last axis (weight frozen). */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  const forward = (a: tf.Tensor) => tf.mul(tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), constantScalar(eps)))), weight);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const a = args[0] as tf.Tensor;
    (args[1] as tf.GradSaveFunc)([a]);
    return {
      value: forward(a),
      // y = w·x·r with r = (mean(x²)+eps)^-½  ⇒  dx = r·g − x·r³·mean(g·x), g = dy·w.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0]!;
        const r = tf.rsqrt(tf.add(tf.mean(tf.square(xs), -1, true), constantScalar(eps)));
        const g = tf.mul(dy, weight);
        return tf.sub(tf.mul(g, r), tf.mul(tf.mul(xs, tf.pow(r, constantScalar(3))), tf.mean(tf.mul(g, xs), -1, true)));
      },
    };
  });
  return op(x) as T;
}

/** silu(gate) · up, the SwiGLU of LLaMA's MLP. */
export function swiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [g, u] = args as [tf.Tensor2D, tf.Tensor2D];
    (args[2] as tf.GradSaveFunc)([g, u]);
    return {
      value: tf.mul(tf.mul(g, tf.sigmoid(g)), u),
      // d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g))).
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [gs, us] = saved as [tf.Tensor, tf.Tensor];
        const s = tf.sigmoid(gs);
        const one = constantScalar(1);
        const dGate = tf.mul(tf.mul(dy, us), tf.mul(s, tf.add(one, tf.mul(gs, tf.sub(one, s)))));
        const dUp = tf.mul(dy, tf.mul(gs, s));
        return [dGate, dUp];
      },
    };
  });
  return op(gate, up) as tf.Tensor2D;
}

/** Swaps the two halves of the last axis: the permutation inside rotate_half (its own inverse and transpose). */
function swapHalves(x: tf.Tensor4D): tf.Tensor4D {
  const hd = x.shape[3];
  const [x1, x2] = tf.split(x, [hd / 2, hd / 2], 3);
  return tf.concat([x2!, x1!], 3) as tf.Tensor4D;
}

/**
 * Rotary embedding of x [B, T, heads, hd]: x·cos + rotate_half(x)·sin, with the sign of rotate_half folded into
 * `sinSigned` (tables [T·hd] as ropeTables returns them, or those tables uploaded once per pass as [1, T, 1, hd]
 * tensors, which the op keeps for its backward pass instead of uploading them again). Linear in x, so the backward
 * pass keeps nothing else: dx = dy·cos + swap(dy·sinSigned).
 */
export function applyRope(x: tf.Tensor4D, cosIn: Float32Array | tf.Tensor4D, sinIn: Float32Array | tf.Tensor4D): tf.Tensor4D {
  const [, T, , hd] = x.shape;
  const table = (t: Float32Array | tf.Tensor4D): tf.Tensor4D => (t instanceof Float32Array ? tf.tensor4d(t, [1, T, 1, hd]) : t);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const a = args[0] as tf.Tensor4D;
    const [cos, sin] = [table(cosIn), table(sinIn)];
    // Saved (shared, not copied) because the backward pass runs after the forward pass's tidy freed its tensors.
    (args[1] as tf.GradSaveFunc)([cos, sin]);
    return {
      value: tf.add(tf.mul(a, cos), tf.mul(swapHalves(a), sin)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [c, s] = saved as [tf.Tensor4D, tf.Tensor4D];
        return tf.add(tf.mul(dy, c), swapHalves(tf.mul(dy, s) as tf.Tensor4D));
      },
    };
  });
  return op(x) as tf.Tensor4D;
}

/** a + b for same-shape tensors; tfjs's Add gradient saves (copies) both inputs only to read their shapes. */
export function addSameShape<T extends tf.Tensor>(a: T, b: T): T {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.add(args[0] as tf.Tensor, args[1] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => [dy, tf.clone(dy)],
  }));
  return op(a, b) as T;
}
