import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from '../../model/load.js';
import { trimBufferPool } from '../../model/backend-pool.js';
import { withDeviceErrors } from '../../model/device-errors.js';
import type { LoraRuntime } from '../adapters/lora.js';
import { bucketLength } from '../batching.js';
import { accumulatePairs } from '../engines/device-pairs.js';
import type { DeviceAdamW } from '../engines/device-update.js';
import { explainBackendError } from '../engines/gradients.js';
import { leanVariableGrads } from '../engines/lean-grads.js';
import { clipCoefficient } from '../engines/train-stepper.js';
import { rewardTensor } from './reward-head.js';
import { rewardPairLoss, type RewardPairLoss } from './rm-loss.js';

/** A pair as the reward model reads it (rm.ts's EncodedRewardPair). */
interface RewardPairIds {
  chosen: number[];
  rejected: number[];
  margin: number;
}

export interface RewardDeviceStepOptions {
  dropoutSeed: (pair: number, side: 0 | 1) => number;
  maxGradNorm: number;
  lr: number;
  /** the run's longest sequence: padded lengths never go above it */
  maxSeqLen?: number;
  /** checked before the update: a non-finite loss throws here and changes nothing */
  checkLoss: (pairs: RewardPairLoss[]) => void;
  signal?: AbortSignal;
}

/**
 * One reward-model step on the device (GPU backends), the same arithmetic as rewardStepGradients + hostUpdate:
 * each sequence's reward and its gradients (LoRA and score head), weighted on the device by the pair's
 * Bradley–Terry ∂L/∂r and summed there; one read per step brings back the rewards and the gradient norm; clipping
 * and AdamW run on the device. Sequences are padded to their length bucket (the reward reads the last non-pad
 * token, which padding with the pad id does not move).
 */
export async function rewardDeviceStep(model: LlamaModel, lora: LoraRuntime, score: tf.Variable, adamw: DeviceAdamW, pairs: readonly RewardPairIds[], opts: RewardDeviceStepOptions): Promise<{ pairs: RewardPairLoss[]; gradNorm: number; tokens: number }> {
  const n = pairs.length;
  const pad = model.tokenizer.padId;
  const vars = [...lora.variables, score];
  const padded = (seq: number[]) => [...seq, ...new Array<number>(bucketLength(Math.max(1, seq.length), opts.maxSeqLen) - seq.length).fill(pad)];
  const r = await withDeviceErrors('a reward-model step', () =>
    accumulatePairs(
      n,
      (k, side) => {
        const seq = side === 0 ? pairs[k]!.chosen : pairs[k]!.rejected;
        try {
          return leanVariableGrads(() => tf.sum(rewardTensor(model, [padded(seq)], score, lora.hook({ dropoutSeed: opts.dropoutSeed(k, side) }))) as tf.Scalar, vars);
        } catch (e) {
          throw explainBackendError(e);
        }
      },
      // −log σ(h), h = r_c − r_r − margin: ∂L/∂r_c = −σ(−h) = −∂L/∂r_r; the weights are those ÷ pairs.
      (k, chosen, rejected) => {
        const s = tf.sigmoid(tf.neg(tf.sub(tf.sub(chosen, rejected), pairs[k]!.margin)));
        return [tf.mul(s, -1 / n), tf.mul(s, 1 / n)] as [tf.Scalar, tf.Scalar];
      },
      opts.signal,
    ),
  );
  try {
    const losses = pairs.map((p, k) => rewardPairLoss(r.values[2 * k]!, r.values[2 * k + 1]!, p.margin));
    opts.checkLoss(losses);
    adamw.update(r.grads, clipCoefficient(r.gradNorm, opts.maxGradNorm), opts.lr);
    return { pairs: losses, gradNorm: r.gradNorm, tokens: pairs.reduce((t, p) => t + p.chosen.length + p.rejected.length, 0) };
  } finally {
    tf.dispose(r.grads);
    trimBufferPool();
  }
}
