/** Answers of the last batch round and the samples they kept. */
export interface RoundYield {
  answers: number;
  kept: number;
}

/**
 * The most requests a batch round needs for `missing` kept samples, at the yield the previous round showed. The
 * estimator behind requestsToFill follows a yield that falls within a round, and its forecast is then too uncertain
 * to trust: its answer was the whole round size (2,000 requests for 15 missing samples). A round waits minutes to
 * hours, so the margin is generous: two standard deviations of the kept count (Poisson), and half as many requests
 * again for a yield that goes on falling. Infinity before any round has been seen (the estimator's prior decides).
 */
export function batchRoundCap(missing: number, seen: RoundYield): number {
  if (missing <= 0) return 0;
  if (seen.answers === 0) return Number.POSITIVE_INFINITY;
  // A round that kept nothing says only that the yield is under one a round.
  const perRequest = Math.max(seen.kept, 1) / seen.answers;
  return Math.ceil((1.5 * (missing + 2 * Math.sqrt(missing))) / perRequest);
}
