import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../../model/load.js';
import type { LabelledBatch } from '../../model/loss.js';
import type { AdamW } from '../adamw.js';
import { StepAborted } from './grad-engine.js';
import { withDeviceErrors } from '../../model/device-errors.js';
import { trimBufferPool } from '../../model/backend-pool.js';
import { padToBuckets } from '../batching.js';
import { DeviceAdamW, globalNorm } from './device-update.js';
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
  private readonly adamw: DeviceAdamW;

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
    lora.assign(params);
    this.adamw = new DeviceAdamW(lora.variables, params, opt);
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
      this.adamw.update(r.grads, inv * clipCoefficient(r.gradNorm, this.opts.maxGradNorm), at.lr);
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
        return tf.concat([tf.reshape(nll as tf.Tensor, [1]), tf.reshape(tf.mul(globalNorm(grads), inv), [1])]);
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

  async evaluate(batches: LabelledBatch[], signal?: AbortSignal): Promise<number[]> {
    const out: number[] = [];
    for (const b of batches) {
      if (signal?.aborted) throw new StepAborted();
      out.push(await withDeviceErrors('evaluation', () => batchNll(this.model, this.lora, this.padded(b))));
    }
    trimBufferPool();
    return out;
  }

  sync(): Promise<void> {
    return this.adamw.sync();
  }

  async close(): Promise<void> {
    this.adamw.dispose();
  }
}
