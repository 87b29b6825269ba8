import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../worker-thread.js';
import type { FromIngest, IngestInit, ToIngest } from './ingest-protocol.js';
import { ForgeError, reviveError } from '../errors.js';

type Completed = Extract<FromIngest, { type: 'completed' }>;

/**
 * The run's writer thread during generation: online curation (rules + ROUGE-L dedup) and the SQLite commits.
 * At 52K samples both together cost as much CPU as the HTTP work, and on the main thread they delayed every
 * response behind them. Requests are answered in the order they were sent.
 */
export class IngestPipeline {
  private readonly waiting = new Map<number, { resolve: (v: Completed) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  private flushed: (() => void) | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: FromIngest) => {
      if (m.type === 'completed') {
        const w = this.waiting.get(m.requestId);
        this.waiting.delete(m.requestId);
        w?.resolve(m);
      } else if (m.type === 'flushed') this.flushed?.();
      else if (m.type === 'ready') return;
      else if (m.type === 'error') this.fail(writerError(m.error));
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      if (this.waiting.size) this.fail(new ForgeError('internal', `run writer exited (code ${code})`, { hint: 'what it committed is kept: rerun the same command to resume' }));
    });
  }

  /**
   * Starts the thread without waiting for it: messages queue until it has built its index, so the first requests go
   * out while it loads (a failure to start surfaces on the first `complete`).
   */
  static start(init: IngestInit): IngestPipeline {
    return new IngestPipeline(startModuleWorker(import.meta.url, 'ingest-worker-main', init));
  }

  /** Fire-and-forget writes (request started / failed, meta): ordered before anything sent later. */
  send(m: Exclude<ToIngest, { type: 'complete' | 'complete-items' | 'precheck-item' | 'flush' }>): void {
    if (!this.failure) this.worker.postMessage(m);
  }

  /** Curates and commits one response with its items; resolves with the run's kept count after it. */
  complete(m: Extract<ToIngest, { type: 'complete' | 'complete-items' | 'precheck-item' }>): Promise<Completed> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.set(m.requestId, { resolve, reject });
      this.worker.postMessage(m);
    });
  }

  /** Waits until every write sent so far is committed. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      const onExit = () => reject(this.failure ?? new Error('run writer exited'));
      this.flushed = () => {
        this.worker.off('exit', onExit);
        resolve();
      };
      this.worker.once('exit', onExit);
      this.worker.postMessage({ type: 'flush' } satisfies ToIngest);
    });
    if (this.failure) throw this.failure;
  }

  /** Waits for every write sent so far, then stops the thread. */
  async close(): Promise<void> {
    if (!this.failure) {
      // Messages are handled in order: when the flush is answered, everything sent before it is committed.
      await new Promise<void>((resolve) => {
        this.flushed = resolve;
        this.worker.postMessage({ type: 'flush' } satisfies ToIngest);
        this.worker.once('exit', () => resolve());
      });
    }
    await this.worker.terminate();
  }

  get error(): Error | null {
    return this.failure;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}

/** A typed error keeps its class, exit code and hint; anything else (a bug, SQLite itself) says where it happened. */
function writerError(s: Extract<FromIngest, { type: 'error' }>['error']): Error {
  const e = reviveError(s);
  if (e instanceof ForgeError) return e;
  return new ForgeError('internal', `run writer: ${s.name}: ${s.message}`, { cause: e });
}
