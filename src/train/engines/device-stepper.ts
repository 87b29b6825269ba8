import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../../model/load.js';
import type { LabelledBatch } from '../../model/loss.js';
import type { AdamW } from '../adamw.js';
import { StepAborted } from './grad-engine.js';
import { withDeviceErrors } from '../../model/device-errors.js';
import { trimBufferPool } from '../../model/backend-pool.js';
import { padToBuckets } from '../batching.js';
import { batchNll, explainBackendError, passGradientTensors, splitIntoPasses, type MicroBatch } from './gradients.js';
import type { AdapterRuntime } from '../adapters/adapter-runtime.js';
import { assertFiniteLoss, clipCoefficient, type StepOutcome, type TrainStepper } from './train-stepper.js';

/**
 * A whole optimizer step on the backend (GPU): micro-batch gradients are added into kept tensors, scaled, their
 * global norm taken, clipped and fed to AdamW whose m and v live in tf.Variables beside the LoRA variables. Per
 * step exactly one read crosses to the host: Σ NLL and the gradient norm (2 floats), which the log shows and the
 * finite-loss check and clipping factor need. Parameters and optimizer state are read only by sync() (checkpoints
 * and the final adapter). Same arithmetic as HostStepper + AdamW, in float32.
 */
export class DeviceStepper implements TrainStepper {
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t: number;

  constructor(
    private readonly model: LlamaModel,
    private readonly lora: AdapterRuntime,
    /** host mirrors written by sync(): the arrays LoraWeights holds, and the optimizer whose state is checkpointed */
    private readonly params: Float32Array[],
    private readonly opt: AdamW,
    private readonly opts: {
      maxGradNorm: number;
      maxPassTokens: number;
      /** The run's longest sequence: padded lengths never go above it. Defaults to no cap. */
      maxSeqLen?: number;
    },
  ) {
    const state = opt.getState();
    lora.assign(params);
    this.m = lora.variables.map((x, k) => tf.variable(tf.tensor(state.m[k] as Float32Array, x.shape), false));
    this.v = lora.variables.map((x, k) => tf.variable(tf.tensor(state.v[k] as Float32Array, x.shape), false));
    this.t = state.step;
  }

  /**
   * The gradients and figures are computed and read inside the device's error scopes, and AdamW runs only once
   * they popped clean: a step the GPU rejected fails instead of applying what it read.
   */
  async step(micro: MicroBatch[], at: { step: number; lossTokens: number; lr: number }, signal?: AbortSignal): Promise<StepOutcome> {
    const r = await withDeviceErrors(`training step ${at.step}`, () => this.gradients(micro, at, signal));
    try {
      const loss = r.nllSum / at.lossTokens;
      assertFiniteLoss(loss, at.step);
      const inv = 1 / at.lossTokens;
      this.update(r.grads, inv * clipCoefficient(r.gradNorm, this.opts.maxGradNorm), at.lr);
      return { loss, gradNorm: r.gradNorm };
    } finally {
      tf.dispose(r.grads);
      trimBufferPool();
    }
  }

  /** Rows padded to their length bucket: the pool then sees a few pass shapes in a whole run (bucketLength). */
  private padded<B extends LabelledBatch>(b: B): B {
    return padToBuckets(b, this.model.tokenizer.padId, this.opts.maxSeqLen);
  }

  /** Σ-gradients of the step's micro-batches, left on the device, with Σ NLL and the gradient norm read back. */
  private async gradients(micro: MicroBatch[], at: { lossTokens: number }, signal?: AbortSignal): Promise<{ grads: tf.Tensor[]; nllSum: number; gradNorm: number }> {
    let acc: tf.Tensor[] | null = null;
    let nll: tf.Tensor | null = null;
    let done = false;
    try {
      for (const mb of micro) {
        if (signal?.aborted) throw new StepAborted();
        for (const pass of splitIntoPasses(this.padded(mb), this.opts.maxPassTokens)) {
          let r;
          try {
            r = passGradientTensors(this.model, this.lora, pass);
          } catch (e) {
            throw explainBackendError(e);
          }
          if (!acc || !nll) {
            acc = r.grads;
            nll = r.value;
          } else {
            const prev: tf.Tensor[] = acc;
            acc = prev.map((a, k) => tf.add(a, r.grads[k] as tf.Tensor));
            const sum: tf.Tensor = tf.add(nll, r.value);
            tf.dispose([...prev, ...r.grads, nll, r.value]);
            nll = sum;
          }
        }
        // Let timers and signal handlers (Ctrl-C, the live progress line) run between micro-batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (!acc || !nll) throw new TypeError('DeviceStepper.step: a step needs at least one micro-batch');
      const inv = 1 / at.lossTokens;
      const grads: tf.Tensor[] = acc;
      const figures = tf.tidy(() => {
        const sq = sumTree(grads.map((g) => tf.sum(tf.square(g))));
        return tf.concat([tf.reshape(nll as tf.Tensor, [1]), tf.reshape(tf.mul(tf.sqrt(sq), inv), [1])]);
      });
      const [nllSum, gradNorm] = Array.from((await figures.data()) as Float32Array) as [number, number];
      figures.dispose();
      done = true;
      return { grads, nllSum, gradNorm };
    } finally {
      if (acc && !done) tf.dispose(acc);
      nll?.dispose();
    }
  }

  /** AdamW (torch's) on the backend, the gradients being Σ-gradients × `gradScale` (1/tokens × clip factor). */
  private update(sums: tf.Tensor[], gradScale: number, lr: number): void {
    this.t += 1;
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.opt;
    const stepSize = lr / (1 - b1 ** this.t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.t);
    const decay = 1 - lr * weightDecay;
    tf.tidy(() => {
      this.lora.variables.forEach((p, k) => {
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

  async evaluate(batches: LabelledBatch[], signal?: AbortSignal): Promise<number[]> {
    const out: number[] = [];
    for (const b of batches) {
      if (signal?.aborted) throw new StepAborted();
      out.push(await withDeviceErrors('evaluation', () => batchNll(this.model, this.lora, this.padded(b))));
    }
    trimBufferPool();
    return out;
  }

  async sync(): Promise<void> {
    const [params, m, v] = await withDeviceErrors('reading the adapter back', () => Promise.all([this.lora.read(), readAll(this.m), readAll(this.v)]));
    params.forEach((p, k) => (this.params[k] as Float32Array).set(p));
    this.opt.setState({ step: this.t, m, v });
  }

  async close(): Promise<void> {
    tf.dispose([...this.m, ...this.v]);
  }
}

const readAll = (vars: tf.Variable[]): Promise<Float32Array[]> => Promise.all(vars.map(async (x) => new Float32Array((await x.data()) as Float32Array)));

/**
 * Σ of same-shape tensors as a tree of binary adds. Not tf.addN: its webgpu kernel binds every input at once and
 * fails validation past the adapter's maxStorageBuffersPerShaderStage (8 by default), i.e. for any real adapter.
 */
function sumTree(ts: tf.Tensor[]): tf.Tensor {
  let level = ts;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? tf.add(level[i] as tf.Tensor, level[i + 1] as tf.Tensor) : (level[i] as tf.Tensor));
    level = next;
  }
  return level[0] as tf.Tensor;
}
