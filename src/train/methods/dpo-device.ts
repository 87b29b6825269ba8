import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../../model/load.js';
import { trimBufferPool } from '../../model/backend-pool.js';
import { withDeviceErrors } from '../../model/device-errors.js';
import type { LoraRuntime } from '../adapters/lora.js';
import { padToBuckets } from '../batching.js';
import { accumulatePairs } from '../engines/device-pairs.js';
import type { DeviceAdamW } from '../engines/device-update.js';
import { explainBackendError, passGradientTensors } from '../engines/gradients.js';
import { clipCoefficient } from '../engines/train-stepper.js';
import type { EncodedPair } from './dpo-data.js';
import { dpoPairLoss, type PairLoss } from './dpo-loss.js';
import type { DpoLoss } from '../recipes/recipe.js';

export interface DpoDeviceStepOptions {
  beta: number;
  loss: DpoLoss;
  dropoutSeed: (pair: number, side: 0 | 1) => number;
  maxGradNorm: number;
  lr: number;
  /** the run's longest sequence: padded lengths never go above it */
  maxSeqLen?: number;
  /** checked before the update: a non-finite loss throws here and changes nothing */
  checkLoss: (pairs: PairLoss[]) => void;
  signal?: AbortSignal;
}

/**
 * One DPO optimizer step on the device (GPU backends), the same arithmetic as dpoStepGradients + hostUpdate: each
 * sequence's forward + backward with this step's dropout, its gradients weighted on the device by the pair's
 * ∂L/∂log π (which needs the pair's two log-probs, computed on the device too) and summed there; one read per
 * step brings back the log-probs and the gradient norm; clipping and AdamW run on the device.
 */
export async function dpoDeviceStep(model: LlamaModel, lora: LoraRuntime, adamw: DeviceAdamW, pairs: readonly EncodedPair[], reference: readonly { chosen: number; rejected: number }[], opts: DpoDeviceStepOptions): Promise<{ pairs: PairLoss[]; gradNorm: number; tokens: number }> {
  const n = pairs.length;
  const { beta } = opts;
  const pad = model.tokenizer.padId;
  const r = await withDeviceErrors('a DPO step', () =>
    accumulatePairs(
      n,
      (k, side) => {
        const seq = side === 0 ? pairs[k]!.chosen : pairs[k]!.rejected;
        try {
          return passGradientTensors(model, lora, padToBuckets({ inputIds: [seq.inputIds], labels: [seq.labels], dropoutSeed: opts.dropoutSeed(k, side) }, pad, opts.maxSeqLen));
        } catch (e) {
          throw explainBackendError(e);
        }
      },
      // The passes give Σ NLL = −log π. h = (log πc − ref c) − (log πr − ref r); the weights are −∂L/∂log π ÷ pairs.
      (k, nllChosen, nllRejected) => {
        const h = tf.sub(tf.sub(nllRejected, nllChosen), reference[k]!.chosen - reference[k]!.rejected);
        if (opts.loss === 'ipo') {
          const d = tf.sub(h, 1 / (2 * beta));
          return [tf.mul(d, -2 / n), tf.mul(d, 2 / n)] as [tf.Scalar, tf.Scalar];
        }
        const s = tf.sigmoid(tf.mul(h, -beta));
        return [tf.mul(s, beta / n), tf.mul(s, -beta / n)] as [tf.Scalar, tf.Scalar];
      },
      opts.signal,
    ),
  );
  try {
    const losses = pairs.map((_, k) => dpoPairLoss({ policyChosen: -r.values[2 * k]!, policyRejected: -r.values[2 * k + 1]!, refChosen: reference[k]!.chosen, refRejected: reference[k]!.rejected }, beta, opts.loss));
    opts.checkLoss(losses);
    adamw.update(r.grads, clipCoefficient(r.gradNorm, opts.maxGradNorm), opts.lr);
    const tokens = pairs.reduce((t, p) => t + p.chosen.inputIds.length + p.rejected.inputIds.length, 0);
    return { pairs: losses, gradNorm: r.gradNorm, tokens };
  } finally {
    tf.dispose(r.grads);
    trimBufferPool();
  }
}
