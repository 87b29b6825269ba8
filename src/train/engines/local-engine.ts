import type { LlamaModel } from '../../model/load.js';
import type { LabelledBatch } from '../../model/loss.js';
import { StepAborted, OrderedGradientSum, type GradEngine, type StepGradients } from './grad-engine.js';
import { batchNll, explainBackendError, microBatchGradients, type MicroBatch } from './gradients.js';
import type { AdapterRuntime } from '../adapters/adapter-runtime.js';

/** All passes in this thread, on the backend selectBackend started (GPU backends, tests, single core). */
export class LocalGradEngine implements GradEngine {
  readonly workers = 1;
  constructor(
    private readonly model: LlamaModel,
    private readonly lora: AdapterRuntime,
    private readonly maxPassTokens = Infinity,
  ) {}

  async step(params: readonly Float32Array[], micro: MicroBatch[], signal?: AbortSignal): Promise<StepGradients> {
    this.lora.assign(params);
    const sum = new OrderedGradientSum(params.map((p) => p.length));
    for (let i = 0; i < micro.length; i++) {
      if (signal?.aborted) throw new StepAborted();
      let r;
      try {
        r = await microBatchGradients(this.model, this.lora, micro[i] as MicroBatch, { maxPassTokens: this.maxPassTokens });
      } catch (e) {
        throw explainBackendError(e);
      }
      sum.add(i, r.grads, r.nllSum);
      // Let timers and signal handlers (Ctrl-C, the live progress line) run between micro-batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { grads: sum.sums, nllSum: sum.nllSum };
  }

  async evaluate(params: readonly Float32Array[], batches: LabelledBatch[], signal?: AbortSignal): Promise<number[]> {
    this.lora.assign(params);
    const out: number[] = [];
    for (const b of batches) {
      if (signal?.aborted) throw new StepAborted();
      out.push(await batchNll(this.model, this.lora, b));
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }

  async close(): Promise<void> {}
}
