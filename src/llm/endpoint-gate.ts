import { ForgeError } from '../errors.js';
import type { TransportState } from '../events.js';
import { sleep } from './retry-policy.js';

/** Thrown when the endpoint stayed down through every pause: the run stops, resumable. */
export class EndpointDownError extends ForgeError {
  constructor(message: string) {
    super('api', message, { hint: 'check that the server is up and reachable, then run the same command again to resume' });
    this.name = 'EndpointDownError';
  }
}

export interface EndpointGateOptions {
  pauseAfterFailures: number;
  pauseMs: number;
  maxPauses: number;
  maxPauseMs?: number;
  onState?: (s: TransportState) => void;
}

/**
 * A circuit breaker shared by all requests of a run, so that 64 concurrent workers never hammer an endpoint
 * that is down: after `pauseAfterFailures` failed attempts in a row every request waits out a pause (doubling
 * each time); then a single probe goes first, and the rest follow only once it succeeds.
 * A rate-limit wait (Retry-After) is applied to everyone too, since the limit is the account's, not the request's.
 */
export class EndpointGate {
  private consecutiveFailures = 0;
  private pauses = 0;
  private notBefore = 0;
  private probing: Promise<void> | null = null;
  private releaseProbe: (() => void) | null = null;
  private halfOpen = false;
  private lastReason = '';
  private succeeded = false;
  private readonly opts: Required<Omit<EndpointGateOptions, 'onState'>> & Pick<EndpointGateOptions, 'onState'>;

  constructor(opts: EndpointGateOptions) {
    this.opts = { maxPauseMs: 600_000, ...opts };
  }

  /** Waits until a request may be sent. */
  async wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const delay = this.notBefore - Date.now();
      if (delay > 0) {
        await sleep(delay, signal);
        continue;
      }
      if (!this.halfOpen) return;
      if (this.probing === null) {
        // This caller is the probe; others wait for its outcome.
        this.probing = new Promise<void>((resolve) => (this.releaseProbe = resolve));
        return;
      }
      await this.waitForProbe(this.probing, signal);
    }
  }

  /** The listener goes as soon as the probe settles: a run's signal sees thousands of these waits. */
  private async waitForProbe(probe: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    if (!signal) return probe;
    let onAbort: () => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([probe, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Everyone waits at least `ms` (a Retry-After or rate-limit reset the server asked for). */
  delayAll(ms: number): void {
    this.notBefore = Math.max(this.notBefore, Date.now() + ms);
  }

  success(): void {
    const wasDown = this.halfOpen || this.pauses > 0;
    this.succeeded = true;
    this.consecutiveFailures = 0;
    this.pauses = 0;
    this.halfOpen = false;
    this.finishProbe();
    if (wasDown) this.opts.onState?.({ state: 'ok' });
  }

  /** Records a failed attempt; throws EndpointDownError once the endpoint stayed down through every pause. */
  failure(reason: string): void {
    this.lastReason = reason;
    this.consecutiveFailures += 1;
    const probeFailed = this.halfOpen && this.probing !== null;
    if (this.consecutiveFailures >= this.opts.pauseAfterFailures || probeFailed) {
      this.pauses += 1;
      this.consecutiveFailures = 0;
      if (this.pauses > this.opts.maxPauses) {
        this.finishProbe();
        throw new EndpointDownError(`the endpoint kept failing through ${this.opts.maxPauses} pauses (last error: ${reason})`);
      }
      const waitMs = Math.min(this.opts.maxPauseMs, this.opts.pauseMs * 2 ** (this.pauses - 1));
      this.notBefore = Math.max(this.notBefore, Date.now() + waitMs);
      this.halfOpen = true;
      this.finishProbe();
      this.opts.onState?.({ state: 'paused', reason: `${reason} — ${this.opts.pauseAfterFailures} failures in a row`, waitMs, pause: this.pauses });
    }
  }

  get isDown(): boolean {
    return this.halfOpen;
  }

  /** Whether any request has got an answer through this gate (since this process started). */
  get hasSucceeded(): boolean {
    return this.succeeded;
  }

  get reason(): string {
    return this.lastReason;
  }

  private finishProbe(): void {
    const release = this.releaseProbe;
    this.probing = null;
    this.releaseProbe = null;
    release?.();
  }
}
