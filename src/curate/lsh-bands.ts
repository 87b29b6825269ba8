/**
 * Bands and rows of MinHash-LSH from a target Jaccard threshold t. Two sets with Jaccard s become candidates with
 * probability 1 − (1 − s^r)^b (Leskovec, Rajaraman & Ullman, Mining of Massive Datasets, ch. 3.4). Candidates are
 * verified by their true Jaccard, so a false candidate costs only time; a missed pair is lost. For each r the
 * fewest bands b whose recall at s = t is at least `recall`; of those, the (b, r) that costs least in hash
 * functions plus exact checks of unrelated pairs that become candidates.
 */
export interface LshBands {
  bands: number;
  rows: number;
  /** Probability that a pair at exactly the threshold becomes a candidate. */
  recallAtThreshold: number;
}

export function candidateProbability(s: number, bands: number, rows: number): number {
  return 1 - (1 - s ** rows) ** bands;
}

export function lshBands(threshold: number, opts: { recall?: number; maxHashes?: number } = {}): LshBands {
  if (!(threshold > 0 && threshold <= 1)) throw new TypeError(`lshBands: threshold must be in (0, 1], got ${threshold}`);
  const recall = opts.recall ?? 0.995;
  const maxHashes = opts.maxHashes ?? 256;
  // Unrelated instructions mostly share under a fifth of their shingles; each of them that becomes a candidate
  // costs one exact Jaccard, which is weighed here against 500 hash functions per item.
  const unrelated = Math.min(0.2, threshold / 2);
  let best: { bands: LshBands; cost: number } | null = null;
  for (let rows = 1; rows <= 32; rows++) {
    const p = threshold ** rows;
    // Smallest b with (1 − p)^b ≤ 1 − recall.
    const bands = p >= 1 ? 1 : 1 - p === 1 ? Infinity : Math.max(1, Math.ceil(Math.log(1 - recall) / Math.log(1 - p)));
    if (!Number.isFinite(bands) || bands * rows > maxHashes) continue;
    const cost = bands * rows + 500 * candidateProbability(unrelated, bands, rows);
    if (!best || cost < best.cost) best = { bands: { bands, rows, recallAtThreshold: candidateProbability(threshold, bands, rows) }, cost };
  }
  if (!best) throw new TypeError(`lshBands: no bands and rows within ${maxHashes} hashes reach recall ${recall} at ${threshold}`);
  return best.bands;
}
