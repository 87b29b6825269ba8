import * as tf from '@tensorflow/tfjs';
import type { AdamW } from '../adamw.js';
import { withDeviceErrors } from '../../model/device-errors.js';
import { adamWKernels } from './device-adamw-kernel.js';

/**
 * AdamW (torch's) on the backend: m and v live in tf.Variables beside the trainable variables, mirrored into the
 * host optimizer (and the host parameter arrays) only by sync(), for checkpoints and the final adapter. The
 * device step of every method (SFT, DPO, RM) ends here: its Σ-gradients are left on the device, scaled, and
 * applied; nothing per parameter crosses to the host.
 */
export class DeviceAdamW {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t: number;

  constructor(
    private readonly variables: tf.Variable[],
    /** host mirrors written by sync(), in variable order */
    private readonly params: Float32Array[],
    private readonly opt: AdamW,
  ) {
    const state = opt.getState();
    this.m = variables.map((x, k) => tf.variable(tf.tensor(state.m[k] as Float32Array, x.shape), false));
    this.v = variables.map((x, k) => tf.variable(tf.tensor(state.v[k] as Float32Array, x.shape), false));
    this.t = state.step;
  }

  /** One update, the gradients being `sums` × `gradScale` (e.g. 1/tokens × the clip factor). */
  update(sums: tf.Tensor[], gradScale: number, lr: number): void {
    this.t += 1;
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.opt;
    const stepSize = lr / (1 - b1 ** this.t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.t);
    const decay = 1 - lr * weightDecay;
    const fused = tf.getBackend() === 'webgpu';
    tf.tidy(() => {
      this.variables.forEach((p, k) => {
        if (fused) {
          const next = adamWKernels(p, this.m[k] as tf.Variable, this.v[k] as tf.Variable, sums[k] as tf.Tensor, { gradScale, b1, b2, eps, stepSize, bc2Sqrt, decay });
          (this.m[k] as tf.Variable).assign(next.m);
          (this.v[k] as tf.Variable).assign(next.v);
          p.assign(next.p);
          return;
        }
        const g = tf.mul(sums[k] as tf.Tensor, gradScale);
        const m = tf.add(tf.mul(this.m[k] as tf.Variable, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[k] as tf.Variable, b2), tf.mul(tf.square(g), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
        const next = tf.sub(decay === 1 ? p : tf.mul(p, decay), tf.div(tf.mul(m, stepSize), denom));
        (this.m[k] as tf.Variable).assign(m);
        (this.v[k] as tf.Variable).assign(v);
        p.assign(next);
      });
    });
  }

  /** Reads parameters and optimizer state into the host arrays (checkpoints, the final adapter). */
  async sync(): Promise<void> {
    const [params, m, v] = await withDeviceErrors('reading the adapter back', () => Promise.all([readAll(this.variables), readAll(this.m), readAll(this.v)]));
    params.forEach((p, k) => (this.params[k] as Float32Array).set(p));
    this.opt.setState({ step: this.t, m, v });
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}

const readAll = (vars: tf.Variable[]): Promise<Float32Array[]> => Promise.all(vars.map(async (x) => new Float32Array((await x.data()) as Float32Array)));

/** Global L2 norm of a set of tensors, as a scalar on the device. */
export function globalNorm(ts: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(sumTree(ts.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Σ of same-shape tensors as a tree of binary adds. Not tf.addN: its webgpu kernel binds every input at once and
 * fails validation past the adapter's maxStorageBuffersPerShaderStage (8 by default), i.e. for any real adapter.
 */
export function sumTree(ts: tf.Tensor[]): tf.Tensor {
  let level = ts;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? tf.add(level[i] as tf.Tensor, level[i + 1] as tf.Tensor) : (level[i] as tf.Tensor));
    level = next;
  }
  return level[0] as tf.Tensor;
}
