import { ForgeError } from '../../errors.js';
import type { LabelledBatch } from '../../model/loss.js';
import type { MicroBatch } from './gradients.js';

export interface StepGradients {
  /** Σ over the step's micro-batches of d(Σ NLL)/dθ, summed in micro-batch order (so any worker count agrees) */
  grads: Float64Array[];
  nllSum: number;
}

/**
 * Where forward/backward passes run: in this thread (LocalGradEngine) or spread over worker threads, each with
 * its own TensorFlow.js instance (WorkerGradEngine). The trainer only sees this interface.
 */
export interface GradEngine {
  readonly workers: number;
  /** Gradients of one optimizer step at parameters `params`. Rejects with an AbortError when `signal` fires. */
  step(params: readonly Float32Array[], micro: MicroBatch[], signal?: AbortSignal): Promise<StepGradients>;
  /** Σ NLL of each batch at `params`, no dropout. */
  evaluate(params: readonly Float32Array[], batches: LabelledBatch[], signal?: AbortSignal): Promise<number[]>;
  close(): Promise<void>;
}

export class StepAborted extends ForgeError {
  constructor() {
    super('interrupted', 'training step interrupted');
    this.name = 'StepAborted';
  }
}

/** Adds micro-batch gradients in index order as they arrive, whatever order they finish in. */
export class OrderedGradientSum {
  readonly sums: Float64Array[];
  nllSum = 0;
  private next = 0;
  private readonly pending = new Map<number, { grads: Float32Array[]; nllSum: number }>();

  constructor(sizes: number[]) {
    this.sums = sizes.map((n) => new Float64Array(n));
  }

  add(index: number, grads: Float32Array[], nllSum: number): void {
    this.pending.set(index, { grads, nllSum });
    for (let p = this.pending.get(this.next); p; p = this.pending.get(this.next)) {
      this.pending.delete(this.next);
      p.grads.forEach((g, k) => {
        const s = this.sums[k] as Float64Array;
        for (let i = 0; i < g.length; i++) s[i] = (s[i] as number) + (g[i] as number);
      });
      this.nllSum += p.nllSum;
      this.next += 1;
    }
  }

  get count(): number {
    return this.next;
  }
}
