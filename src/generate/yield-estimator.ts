/**
 * Kept samples per answered request, forecast from the recent answers. A teacher's variety saturates on the way to a
 * large target, so the yield near the end is a fraction of the session average (scheduling the tail from the
 * average left most of the concurrency idle), and it is still falling while the last requests are out: an average
 * of recent answers lags it by half its window. So this fits a line to the answers, weighted to fade over about
 * `window` answers (discounted least squares), and forecasts along it, with the spread of one answer around the
 * line and the uncertainty of the line itself for the scheduler's safety margin. The fit is exact from the second
 * answer, so a yield that falls within the first round is followed too.
 */
export class YieldEstimator {
  private readonly keep: number;
  private readonly prior: number;
  // Discounted sums over the answers, by age (0 = the newest): Σw, Σw·age, Σw·age², Σw·y, Σw·age·y, Σw·y².
  private w = 0;
  private wa = 0;
  private waa = 0;
  private wy = 0;
  private way = 0;
  private wyy = 0;
  // The same with squared weights, for the variance of the fitted line (its weights are fades, not precisions).
  private vw = 0;
  private vwa = 0;
  private vwaa = 0;
  private seen = 0;

  /**
   * @param window answers the estimate spans (the scheduler uses about 2× the concurrency)
   * @param prior kept-per-request assumed before any answer is curated (what a request asks for)
   */
  constructor(window: number, prior: number) {
    if (!(window >= 1)) throw new TypeError(`YieldEstimator: window must be >= 1, got ${window}`);
    if (!(prior > 0)) throw new TypeError(`YieldEstimator: prior must be > 0, got ${prior}`);
    this.keep = 1 - 2 / (window + 1);
    this.prior = prior;
  }

  /** One curated answer and how many of its tasks were kept. */
  observe(kept: number): void {
    this.seen++;
    const k = this.keep;
    // Every earlier answer is one older, and weighs a little less.
    this.waa = k * (this.waa + 2 * this.wa + this.w);
    this.wa = k * (this.wa + this.w);
    this.way = k * (this.way + this.wy);
    this.w = k * this.w + 1;
    this.wy = k * this.wy + kept;
    this.wyy = k * this.wyy + kept * kept;
    const k2 = k * k;
    this.vwaa = k2 * (this.vwaa + 2 * this.vwa + this.vw);
    this.vwa = k2 * (this.vwa + this.vw);
    this.vw = k2 * this.vw + 1;
  }

  /** Answers observed so far. */
  get answers(): number {
    return this.seen;
  }

  /**
   * Kept per request for the answer `ahead` answers from now, never below `floor` so a run of empty answers cannot
   * stall the run. A rising line is not followed (the level now is the most it forecasts: too few requests cost a
   * round trip, too many only the overshoot), nor is a falling one past as many answers as the fit has seen.
   */
  perRequest(ahead = 0, floor = 0.05): number {
    const f = this.fit();
    if (f === null) return Math.max(this.seen === 0 ? this.prior : this.wy / this.w, floor);
    const h = Math.min(Math.max(ahead, 0), this.span());
    return Math.max(f.level + Math.min(f.slope, 0) * h, floor);
  }

  /**
   * The variance of one answer's kept count around the line. The prior counts as one answer, as old as the first,
   * that could have kept anything from none to all, so two answers on a line do not claim to know the spread.
   */
  answerVariance(): number {
    const prior = (this.prior * this.prior) / 4;
    const f = this.fit();
    if (f === null) return prior;
    // The weighted residual sum of squares of the least-squares line, over the weight left after fitting two
    // parameters (of at most about a window's worth of answers).
    const rss = Math.max(this.wyy - f.level * this.wy + f.slope * this.way, 0);
    const n = Math.min(this.seen, (1 + this.keep) / (1 - this.keep));
    const priorWeight = this.keep ** (this.seen - 1);
    return (rss + prior * priorWeight) / (Math.max(this.w * (1 - 2 / n), 0) + priorWeight);
  }

  /**
   * The variance of the forecast `ahead` answers from now, from the uncertainty of the line's level and slope:
   * σ²·x'Cx at age −ahead, C = (X'WX)⁻¹(X'W²X)(X'WX)⁻¹ (the weights fade old answers; they are not precisions).
   */
  forecastVariance(ahead = 0): number {
    // Before the answers say more, the mean is taken as known to a quarter of the prior: otherwise no number of
    // requests would be a safe bet, and a first round for 100 samples would be the whole concurrency.
    const prior = (this.prior / 4) ** 2;
    const f = this.fit();
    if (f === null) return Math.min(this.answerVariance() / Math.max(this.seen, 1), prior);
    const h = Math.min(Math.max(ahead, 0), this.span());
    const det = this.w * this.waa - this.wa * this.wa;
    // g = (X'WX)⁻¹x for x = [1, −h]; then x'Cx = g'(X'W²X)g.
    const g0 = (this.waa + h * this.wa) / det;
    const g1 = (-this.wa - h * this.w) / det;
    const q = g0 * g0 * this.vw + 2 * g0 * g1 * this.vwa + g1 * g1 * this.vwaa;
    return Math.min(this.answerVariance() * Math.max(q, 0), prior);
  }

  /** How far the line is trusted ahead: the answers behind it. */
  private span(): number {
    return Math.min(this.seen, this.w);
  }

  /** The weighted least-squares line y = level + slope·(answers ahead); null until two answers make one. */
  private fit(): { level: number; slope: number } | null {
    if (this.seen < 2) return null;
    const det = this.w * this.waa - this.wa * this.wa;
    if (!(det > 1e-9 * this.w * this.waa)) return null;
    // In age, y = level + c·age; ahead is −age, so the slope per answer ahead is −c.
    const level = (this.waa * this.wy - this.wa * this.way) / det;
    const c = (this.w * this.way - this.wa * this.wy) / det;
    return { level, slope: -c };
  }
}

export interface RequestsToFillOptions {
  /** Kept samples still wanted. */
  remaining: number;
  /** Answered requests the writer has not curated yet: they are the next answers in, before any request now sent. */
  pendingAnswers: number;
  /** The most requests in flight (which bounds the overshoot to one concurrency's worth, stored as over-target). */
  concurrency: number;
  yields: YieldEstimator;
  /**
   * Standard deviations of margin: the requests in flight should fill the target unless the answers come in this
   * far below the forecast. A short final round costs a whole round trip for a few requests; a margin costs a few
   * requests. Defaults to 2 (about 98% of final rounds fill).
   */
  z?: number;
}

/**
 * Requests to keep in flight: enough that, with the answers waiting for the writer, the target is filled in one
 * round trip at the forecast yield with a margin for the spread of answers and of the forecast; never more than the
 * concurrency.
 */
export function requestsToFill(opts: RequestsToFillOptions): number {
  const { remaining, pendingAnswers, concurrency, yields } = opts;
  if (remaining <= 0) return 0;
  const z = opts.z ?? 2;
  const fills = (m: number) => fillMargin(yields, m, remaining) >= z;
  const most = pendingAnswers + concurrency;
  if (!fills(most)) return concurrency;
  // fills() is monotone in m wherever it matters (the forecast's fall over m/2 answers is slow), so bisect.
  let lo = 0;
  let hi = most;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fills(mid)) hi = mid;
    else lo = mid;
  }
  return Math.min(concurrency, Math.max(0, hi - pendingAnswers));
}

export interface SendDecisionOptions {
  /** Kept samples still wanted. */
  remaining: number;
  /** Answered requests the writer has not curated yet: they are the next answers in. */
  pendingAnswers: number;
  /** When each request in flight left (ms, any clock that `now` shares), oldest first. */
  inFlightSentAt: readonly number[];
  now: number;
  /** A request's round trip as recently measured (ms). */
  latencyMs: number;
  yields: YieldEstimator;
}

/**
 * Whether to send one more request now, near the end of a run. Sending it costs time when the answers already on
 * their way fill the target: the run then waits for this one, which comes back `d` later than the answer expected to
 * fill it. Not sending costs time when they fall short: the next request then leaves only when they are in, a
 * latency minus `d` later than now. So send when the chance p that the answers on their way fill the target is
 * under 1 − d/latency. Early in a final round (its requests just sent, d near 0) that asks for a wide margin; as
 * the previous round's last answers come in (d near the latency) it sends only on a clear shortfall, so a run is not
 * held a whole round trip for a top-up request that was not needed.
 */
export function shouldSend(opts: SendDecisionOptions): boolean {
  const { remaining, pendingAnswers, inFlightSentAt, now, yields } = opts;
  if (remaining <= 0) return false;
  const m = pendingAnswers + inFlightSentAt.length;
  if (m === 0) return true;
  const expected = (k: number) => k * yields.perRequest(k / 2);
  // The answer expected to fill the target, or short of that the last one.
  let k = 1;
  while (k < m && expected(k) < remaining) k++;
  const latency = Math.max(opts.latencyMs, 1);
  // When it comes in: pending answers are in now, a request in flight a latency after it left.
  const fillsAt = k <= pendingAnswers ? now : inFlightSentAt[k - pendingAnswers - 1]! + latency;
  const d = Math.min(Math.max(now + latency - fillsAt, 0), latency);
  return fillMargin(yields, m, remaining) < normalQuantile(1 - d / latency);
}

/**
 * By how many standard deviations the next m answers are expected to exceed `remaining`: they keep m·y on average
 * (y forecast halfway through them), with variance m·v from the answers and m²·u from the forecast they share.
 */
function fillMargin(yields: YieldEstimator, m: number, remaining: number): number {
  const surplus = m * yields.perRequest(m / 2) - remaining;
  const sd = Math.sqrt(m * yields.answerVariance() + m * m * yields.forecastVariance(m / 2));
  if (sd > 0) return surplus / sd;
  return surplus >= 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

/** Φ⁻¹(p), clamped to ±2.5 (Abramowitz & Stegun 26.2.23, |error| < 4.5e-4): a margin, not a statistic. */
export function normalQuantile(p: number): number {
  if (p <= 0.00621) return -2.5;
  if (p >= 0.99379) return 2.5;
  const q = p < 0.5 ? p : 1 - p;
  const t = Math.sqrt(-2 * Math.log(q));
  const x = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
  return p < 0.5 ? -x : x;
}
