import * as tf from '@tensorflow/tfjs';
import { StepAborted } from './grad-engine.js';
import { globalNorm } from './device-update.js';

/** One sequence's forward + backward, left on the device: the scalar the pair loss reads, and its gradients. */
export interface SequencePass {
  value: tf.Scalar;
  grads: tf.Tensor[];
}

/**
 * The gradient of a mean pair loss (DPO, IPO, Bradley–Terry) accumulated on the device. Such a loss depends on
 * each sequence only through one scalar (its summed log-prob, its reward), so ∇L = Σ (w_c ∇x_c + w_r ∇x_r) with
 * weights that follow from the pair's two scalars: each pair's two passes run, `weights` turns their scalars into
 * w_c and w_r on the device, and the weighted gradients join the sum. No read until the end of the step, which
 * brings back every sequence's scalar and the global gradient norm at once (the host then computes the exact
 * losses and metrics from them). One pair's gradients are alive at a time, as on the host.
 */
export async function accumulatePairs(
  pairs: number,
  pass: (pair: number, side: 0 | 1) => SequencePass,
  weights: (pair: number, chosen: tf.Scalar, rejected: tf.Scalar) => [tf.Scalar, tf.Scalar],
  signal?: AbortSignal,
): Promise<{ grads: tf.Tensor[]; values: Float32Array; gradNorm: number }> {
  let acc: tf.Tensor[] | null = null;
  const values: tf.Scalar[] = [];
  let done = false;
  try {
    for (let k = 0; k < pairs; k++) {
      if (signal?.aborted) throw new StepAborted();
      const c = pass(k, 0);
      values.push(c.value);
      let r: SequencePass;
      try {
        r = pass(k, 1);
      } catch (e) {
        tf.dispose(c.grads);
        throw e;
      }
      values.push(r.value);
      const prev: tf.Tensor[] | null = acc;
      acc = tf.tidy(() => {
        const [wc, wr] = weights(k, c.value, r.value);
        return c.grads.map((gc, v) => {
          const term = tf.add(tf.mul(gc, wc), tf.mul(r.grads[v] as tf.Tensor, wr));
          return prev ? tf.add(prev[v] as tf.Tensor, term) : term;
        });
      });
      tf.dispose([...(prev ?? []), ...c.grads, ...r.grads]);
      // Let timers and signal handlers (Ctrl-C, the live progress line) run between pairs.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (!acc) throw new TypeError('accumulatePairs: a step needs at least one pair');
    const grads: tf.Tensor[] = acc;
    const figures = tf.tidy(() => tf.concat([tf.stack(values), tf.reshape(globalNorm(grads), [1])]));
    const read = (await figures.data()) as Float32Array;
    figures.dispose();
    done = true;
    return { grads, values: read.slice(0, 2 * pairs), gradNorm: read[2 * pairs] as number };
  } finally {
    tf.dispose(values);
    if (acc && !done) tf.dispose(acc);
  }
}
