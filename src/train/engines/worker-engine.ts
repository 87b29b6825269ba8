import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../worker-thread.js';
import { ForgeError, ModelError, reviveError } from '../../errors.js';
import type { LabelledBatch } from '../../model/loss.js';
import { StepAborted, OrderedGradientSum, type GradEngine, type StepGradients } from './grad-engine.js';
import { explainBackendError, type MicroBatch } from './gradients.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';
import type { LoraWeights } from '../adapters/lora-weights.js';
import type { BackendName } from '../../model/backend.js';

interface Slot {
  worker: Worker;
  /** params version this worker holds */
  version: number;
  busy: boolean;
}

type Job = { kind: 'grads'; batch: MicroBatch } | { kind: 'eval'; batch: LabelledBatch };

/**
 * Data parallelism over worker threads. wasm runs one thread per TensorFlow.js instance, so each worker loads its
 * own copy of the model and computes whole micro-batches; the coordinator hands the next micro-batch to whichever
 * worker is free and adds the returned LoRA gradients (a few MB) in micro-batch order, so the result does not
 * depend on which worker computed what.
 */
export class WorkerGradEngine implements GradEngine {
  private version = 0;
  private params: readonly Float32Array[] = [];
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  private fatal: Error | null = null;

  private constructor(private readonly slots: Slot[]) {}

  get workers(): number {
    return this.slots.length;
  }

  /** The workers' start message for these LoRA weights: shapes only, the values follow as params. */
  static init(modelDir: string, backend: BackendName | undefined, weights: LoraWeights, maxPassTokens: number, model: Pick<WorkerInit, 'baseWeights' | 'gradientCheckpointing'> = {}): WorkerInit {
    return {
      modelDir,
      backend,
      ...model,
      spec: weights.spec,
      entries: weights.entries.map(({ layer, module, inFeatures, outFeatures }) => ({ layer, module, inFeatures, outFeatures })),
      maxPassTokens,
    };
  }

  /** Starts `count` workers and waits until each has loaded the model. */
  static async start(init: WorkerInit, count: number): Promise<{ engine: WorkerGradEngine; backend: string; device: string }> {
    const slots: Slot[] = [];
    const engine = new WorkerGradEngine(slots);
    const ready: Array<Promise<{ backend: string; device: string }>> = [];
    for (let i = 0; i < count; i++) {
      const worker = startModuleWorker(import.meta.url, 'worker-main', init);
      slots.push({ worker, version: -1, busy: false });
      ready.push(
        new Promise((resolve, reject) => {
          const onMessage = (m: FromWorker) => {
            if (m.kind === 'ready') {
              worker.off('message', onMessage);
              worker.on('message', (x: FromWorker) => engine.onMessage(x));
              resolve({ backend: m.backend, device: m.device });
            } else if (m.kind === 'error') reject(workerError(m, i));
          };
          worker.on('message', onMessage);
          // An uncaught error in a worker is followed by its exit: keep the error for the exit's message.
          let crash: Error | null = null;
          worker.on('error', (e) => {
            crash = e;
            reject(new ModelError(`training worker ${i} failed to start: ${e.message}`, undefined, e));
          });
          worker.once('exit', (code) => {
            const cause = crash as Error | null;
            const e = cause
              ? (explainBackendError(cause) as Error)
              : new ModelError(`training worker ${i} exited (code ${code})`, 'the machine may be out of memory: use fewer --workers or a smaller --micro-batch-size');
            const err = e instanceof ForgeError ? e : new ModelError(`training worker ${i} failed: ${e.message}`, undefined, e);
            reject(err);
            engine.onExit(err);
          });
        }),
      );
    }
    try {
      const infos = await Promise.all(ready);
      return { engine, ...(infos[0] as { backend: string; device: string }) };
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  private onMessage(m: FromWorker): void {
    if (m.kind === 'ready') return;
    const id = m.id;
    if (id === null) {
      this.onExit(workerError(m as Extract<FromWorker, { kind: 'error' }>, -1));
      return;
    }
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    if (m.kind === 'error') w.reject(workerError(m, -1));
    else w.resolve(m);
  }

  private onExit(e: Error): void {
    if (this.closing) return;
    this.fatal ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  private closing = false;

  private send(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  /** Runs jobs on free workers; results come back indexed like `jobs`. Stops handing out jobs once aborted. */
  private async run(jobs: Job[], onResult: (i: number, m: FromWorker) => void, signal?: AbortSignal): Promise<void> {
    if (this.fatal) throw this.fatal;
    let next = 0;
    let aborted = false;
    let firstError: Error | null = null;
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      const pump = () => {
        if (signal?.aborted) aborted = true;
        while (!aborted && !firstError && next < jobs.length) {
          const slot = this.slots.find((s) => !s.busy);
          if (!slot) break;
          const i = next++;
          const job = jobs[i] as Job;
          if (slot.version !== this.version) {
            this.send(slot, { kind: 'params', params: this.params as Float32Array[] });
            slot.version = this.version;
          }
          const id = this.nextId++;
          slot.busy = true;
          inFlight += 1;
          new Promise<FromWorker>((res, rej) => this.waiting.set(id, { resolve: res, reject: rej })).then(
            (m) => {
              slot.busy = false;
              inFlight -= 1;
              try {
                onResult(i, m);
              } catch (e) {
                firstError ??= e as Error;
              }
              pump();
            },
            (e: Error) => {
              slot.busy = false;
              inFlight -= 1;
              firstError ??= e;
              pump();
            },
          );
          this.send(slot, job.kind === 'grads' ? { kind: 'grads', id, batch: job.batch } : { kind: 'eval', id, batch: job.batch });
        }
        if (inFlight === 0 && (aborted || firstError || next >= jobs.length)) resolve();
      };
      pump();
    });
    if (firstError) throw firstError;
    if (aborted) throw new StepAborted();
  }

  private setParams(params: readonly Float32Array[]): void {
    this.params = params.map((p) => p.slice());
    this.version += 1;
  }

  async step(params: readonly Float32Array[], micro: MicroBatch[], signal?: AbortSignal): Promise<StepGradients> {
    this.setParams(params);
    const sum = new OrderedGradientSum(params.map((p) => p.length));
    await this.run(
      micro.map((batch) => ({ kind: 'grads', batch })),
      (i, m) => {
        if (m.kind !== 'grads') throw new Error(`unexpected worker reply ${m.kind}`);
        sum.add(i, m.grads, m.nllSum);
      },
      signal,
    );
    return { grads: sum.sums, nllSum: sum.nllSum };
  }

  async evaluate(params: readonly Float32Array[], batches: LabelledBatch[], signal?: AbortSignal): Promise<number[]> {
    this.setParams(params);
    const out = new Array<number>(batches.length).fill(0);
    await this.run(
      batches.map((batch) => ({ kind: 'eval', batch })),
      (i, m) => {
        if (m.kind !== 'eval') throw new Error(`unexpected worker reply ${m.kind}`);
        out[i] = m.nllSum;
      },
      signal,
    );
    return out;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

function workerError(m: Extract<FromWorker, { kind: 'error' }>, index: number): Error {
  const where = index >= 0 ? `training worker ${index}: ` : 'training worker: ';
  const e = reviveError(m.error);
  if (e instanceof ForgeError) return e;
  return new ModelError(`${where}${m.error.name}: ${m.error.message}`, undefined, e);
}
