/**
 * Cancellation for many concurrent requests. Each request gets its own AbortController, aborted from here: the SDK
 * and the backoff each listen on the signal they are given, so thousands of requests on one shared signal made every
 * addEventListener linear in the requests in flight and set off MaxListenersExceededWarning. `signal` aborts when
 * the caller's signal does (also if it already had) or when `abort` is called (a fatal error stops the run).
 */
export class RequestAborts {
  private readonly internal = new AbortController();
  private readonly running = new Set<AbortController>();
  private readonly onOuter: () => void;

  constructor(private readonly outer: AbortSignal | undefined) {
    this.internal.signal.addEventListener('abort', () => {
      for (const c of this.running) c.abort(this.internal.signal.reason);
    });
    this.onOuter = () => this.internal.abort(outer?.reason);
    outer?.addEventListener('abort', this.onOuter, { once: true });
    if (outer?.aborted) this.onOuter();
  }

  get signal(): AbortSignal {
    return this.internal.signal;
  }

  abort(reason: unknown): void {
    this.internal.abort(reason);
  }

  /** Runs one request with its own signal. */
  async run<T>(request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const c = new AbortController();
    if (this.internal.signal.aborted) c.abort(this.internal.signal.reason);
    this.running.add(c);
    try {
      return await request(c.signal);
    } finally {
      this.running.delete(c);
    }
  }

  /** Stops listening on the caller's signal (call when the run ends). */
  dispose(): void {
    this.outer?.removeEventListener('abort', this.onOuter);
  }
}
