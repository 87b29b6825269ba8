import { ModelError } from '../../errors.js';
import type { LabelledBatch } from '../../model/loss.js';
import type { MicroBatch } from './gradients.js';

export interface StepOutcome {
  /** Σ NLL over the step's response tokens ÷ their count */
  loss: number;
  /** global gradient norm before clipping */
  gradNorm: number;
}

/**
 * One optimizer step from its micro-batches: gradients, clipping and AdamW. HostStepper keeps the parameters and
 * the optimizer state in JavaScript arrays (CPU backends, worker threads); DeviceStepper keeps them on the
 * backend and reads back only the loss and the gradient norm (GPU backends). The trainer sees only this.
 */
export interface TrainStepper {
  step(micro: MicroBatch[], at: { step: number; lossTokens: number; lr: number }, signal?: AbortSignal): Promise<StepOutcome>;
  /** Σ NLL of each batch at the current parameters, no dropout. */
  evaluate(batches: LabelledBatch[], signal?: AbortSignal): Promise<number[]>;
  /** Brings the parameters and optimizer state into the host arrays the checkpoint writer reads. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** Checked before any update, so a diverged step leaves parameters and optimizer state as they were. */
export function assertFiniteLoss(loss: number, step: number): void {
  if (!Number.isFinite(loss)) {
    throw new ModelError(`loss became ${loss} at step ${step}`, 'lower --learning-rate (or --max-grad-norm), and resume from the last checkpoint with --resume after fixing the cause');
  }
}

/** torch.nn.utils.clip_grad_norm_'s factor: maxNorm / (norm + 1e-6) when that is below 1, else 1. */
export function clipCoefficient(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(norm)) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}
