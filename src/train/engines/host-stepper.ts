import type { LabelledBatch } from '../../model/loss.js';
import type { AdamW } from '../adamw.js';
import { clipGlobalNorm } from '../clip.js';
import type { GradEngine } from './grad-engine.js';
import type { MicroBatch } from './gradients.js';
import { assertFiniteLoss, type StepOutcome, type TrainStepper } from './train-stepper.js';

/**
 * Gradients from a GradEngine (this thread or worker threads) summed in float64, clipping and AdamW on plain
 * arrays: on CPU backends the adapter's gradients are read out anyway (workers must send them), and the
 * arithmetic is exact and backend-independent.
 */
export class HostStepper implements TrainStepper {
  constructor(
    private readonly engine: GradEngine,
    private readonly params: Float32Array[],
    private readonly opt: AdamW,
    private readonly maxGradNorm: number,
  ) {}

  async step(micro: MicroBatch[], at: { step: number; lossTokens: number; lr: number }, signal?: AbortSignal): Promise<StepOutcome> {
    const g = await this.engine.step(this.params, micro, signal);
    const grads = g.grads.map((s) => Float32Array.from(s, (x) => x / at.lossTokens));
    const loss = g.nllSum / at.lossTokens;
    assertFiniteLoss(loss, at.step);
    const gradNorm = clipGlobalNorm(grads, this.maxGradNorm);
    this.opt.step(this.params, grads, at.lr);
    return { loss, gradNorm };
  }

  evaluate(batches: LabelledBatch[], signal?: AbortSignal): Promise<number[]> {
    return this.engine.evaluate(this.params, batches, signal);
  }

  async sync(): Promise<void> {}

  close(): Promise<void> {
    return this.engine.close();
  }
}
