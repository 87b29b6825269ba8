/**
 * Bands and rows of MinHash-LSH from a target Jaccard threshold t. Two sets with Jaccard s become candidates with
 * probability 1 − (1 − s^r)^b (Leskovec, Rajaraman & Ullman, Mining of Massive Datasets, ch. 3.4). Candidates are
 * verified by their true Jaccard, so a false candidate costs only time; a missed pair is lost. For each r the
 * fewest bands b whose recall at s = t is at least `recall`; of those, the (b, r) that costs least in hash
 * functions plus exact checks of near misses that become candidates.
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
  // At scale the candidates that cost are not unrelated texts but near misses: instructions from one template
  // share most of their shingles (Jaccard around 0.6·t), and their number grows with the set, so each item meets
  // thousands. Their chance of becoming a candidate is weighed against hash functions per item: on 1M synthetic
  // instructions at t = 0.8, 18 × 6 (20M candidates) took 28% less CPU than 11 × 4 (44M candidates).
  const nearMiss = threshold * 0.6;
  let best: { bands: LshBands; cost: number } | null = null;
  for (let rows = 1; rows <= 32; rows++) {
    const p = threshold ** rows;
    // Smallest b with (1 − p)^b ≤ 1 − recall.
    const bands = p >= 1 ? 1 : 1 - p === 1 ? Infinity : Math.max(1, Math.ceil(Math.log(1 - recall) / Math.log(1 - p)));
    if (!Number.isFinite(bands) || bands * rows > maxHashes) continue;
    const cost = bands * rows + 600 * candidateProbability(nearMiss, bands, rows);
    if (!best || cost < best.cost) best = { bands: { bands, rows, recallAtThreshold: candidateProbability(threshold, bands, rows) }, cost };
  }
  if (!best) throw new TypeError(`lshBands: no bands and rows within ${maxHashes} hashes reach recall ${recall} at ${threshold}`);
  return best.bands;
}
