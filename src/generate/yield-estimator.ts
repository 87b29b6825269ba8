/**
 * Kept samples per answered request, from the recent answers only: an exponentially weighted mean whose weight
 * spans about `window` answers. A teacher's variety saturates on the way to a large target, so the yield near the
 * end is a fraction of the session average; scheduling the tail from the average sent too few requests per round
 * trip and left most of the concurrency idle.
 */
export class YieldEstimator {
  private readonly alpha: number;
  private mean: number;
  private seen = 0;

  /**
   * @param window answers the estimate spans (the scheduler uses about 2× the concurrency)
   * @param prior kept-per-request assumed before any answer is curated (what a request asks for)
   */
  constructor(window: number, prior: number) {
    if (!(window >= 1)) throw new TypeError(`YieldEstimator: window must be >= 1, got ${window}`);
    if (!(prior > 0)) throw new TypeError(`YieldEstimator: prior must be > 0, got ${prior}`);
    this.alpha = 2 / (window + 1);
    this.mean = prior;
  }

  /** One curated answer and how many of its tasks were kept. */
  observe(kept: number): void {
    this.seen++;
    // The first answers replace the prior rather than being averaged with a guess.
    const a = Math.max(this.alpha, 1 / this.seen);
    this.mean += a * (kept - this.mean);
  }

  /** Answers observed so far. */
  get answers(): number {
    return this.seen;
  }

  /** Kept per request, recent answers weighted most; never below `floor` so a run of empty answers cannot stall it. */
  perRequest(floor = 0.05): number {
    return Math.max(this.mean, floor);
  }
}

/**
 * Requests to keep in flight: enough for the target to be filled in one round trip at the recent yield, never
 * more than the concurrency (which bounds the overshoot to one concurrency's worth of requests, stored as
 * over-target). `pendingAnswers` are answered requests the writer has not curated yet; they count at the same yield.
 */
export function requestsToFill(opts: { remaining: number; pendingAnswers: number; perRequest: number; concurrency: number; headroom?: number }): number {
  const left = opts.remaining - opts.pendingAnswers * opts.perRequest;
  if (left <= 0) return 0;
  // Headroom: the yield keeps falling while these requests are out, so the lagging estimate is a little high.
  return Math.min(opts.concurrency, Math.ceil((left / opts.perRequest) * (opts.headroom ?? 1.25)));
}
