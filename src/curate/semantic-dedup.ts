import { seededRandom } from '../random.js';

export interface SemanticOptions {
  /** Cosine similarity at which an item duplicates an earlier kept one. */
  threshold: number;
  /** Up to this many items every pair is compared; above it, items are clustered first. Default 4,096. */
  exactLimit?: number;
  /** Items per leaf cluster the two-level k-means aims for. Default 128. */
  leafSize?: number;
  seed?: number;
}

export interface SemanticDuplicate {
  /** Index (into the vectors) of the kept item this one duplicates. */
  of: number;
  cosine: number;
}

/**
 * Paraphrase removal by cosine similarity, in keep order (`order[0]` is visited first and always kept). Small sets
 * compare every item with every kept one. Large sets follow SemDeDup (Abbas et al. 2023): cluster the embeddings
 * (here two levels of spherical k-means, about √(n/leafSize) clusters each, so the work grows as n·leafSize rather
 * than n²), then compare only within a leaf cluster. A paraphrase whose pair lands in different leaves is missed;
 * bench/dedup.ts measures that recall against the all-pairs answer. The result depends only on the vectors, the
 * order and the seed.
 */
export function semanticDuplicates(vectors: readonly Float32Array[], order: readonly number[], opts: SemanticOptions): Array<SemanticDuplicate | null> {
  const n = vectors.length;
  const out = new Array<SemanticDuplicate | null>(n).fill(null);
  if (n === 0) return out;
  const d = vectors[0]!.length;
  const flat = new Float32Array(n * d);
  vectors.forEach((v, i) => {
    if (v.length !== d) throw new TypeError(`semanticDuplicates: vector ${i} has ${v.length} dimensions, the first has ${d}`);
    let norm = 0;
    for (let k = 0; k < d; k++) norm += v[k]! * v[k]!;
    const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < d; k++) flat[i * d + k] = v[k]! * s;
  });
  const rank = new Int32Array(n);
  order.forEach((i, r) => (rank[i] = r));
  const leaves = n <= (opts.exactLimit ?? 4096) ? [Int32Array.from(order)] : clusterLeaves(flat, d, n, opts.leafSize ?? 128, opts.seed ?? 1);
  for (const leaf of leaves) {
    const members = Array.from(leaf).sort((a, b) => rank[a]! - rank[b]!);
    const kept: number[] = [];
    for (const i of members) {
      let best = -2;
      let bestJ = -1;
      for (const j of kept) {
        const c = dot(flat, i * d, j * d, d);
        if (c > best) {
          best = c;
          bestJ = j;
        }
      }
      if (bestJ >= 0 && best >= opts.threshold) out[i] = { of: bestJ, cosine: Math.min(1, best) };
      else kept.push(i);
    }
  }
  return out;
}

function dot(a: Float32Array, i: number, j: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < d; k += 4) {
    s0 += a[i + k]! * a[j + k]!;
    s1 += a[i + k + 1]! * a[j + k + 1]!;
    s2 += a[i + k + 2]! * a[j + k + 2]!;
    s3 += a[i + k + 3]! * a[j + k + 3]!;
  }
  for (; k < d; k++) s0 += a[i + k]! * a[j + k]!;
  return s0 + s1 + s2 + s3;
}

/** Two levels of k-means: √(n/leaf) clusters, then each split into about size/leaf leaves. */
function clusterLeaves(flat: Float32Array, d: number, n: number, leaf: number, seed: number): Int32Array[] {
  const rnd = seededRandom(seed);
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  const top = kmeans(flat, d, all, Math.max(1, Math.ceil(Math.sqrt(n / leaf))), rnd);
  return top.flatMap((c) => (c.length <= leaf * 2 ? [c] : kmeans(flat, d, c, Math.ceil(c.length / leaf), rnd)));
}

/**
 * Spherical k-means of `members`: centroids fitted on a sample (16 per cluster, 5 rounds), then every member
 * assigned to its nearest centroid once. Empty clusters are dropped.
 */
function kmeans(flat: Float32Array, d: number, members: Int32Array, k: number, rnd: () => number): Int32Array[] {
  if (k <= 1 || members.length <= k) return [members];
  const sample: number[] = [];
  const want = Math.min(members.length, k * 16);
  for (let s = 0; s < want; s++) sample.push(members[Math.floor(rnd() * members.length)]!);
  const cent = new Float32Array(k * d);
  for (let c = 0; c < k; c++) cent.set(flat.subarray(sample[c]! * d, sample[c]! * d + d), c * d);
  const nearest = (i: number): number => {
    let best = -Infinity;
    let bc = 0;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += flat[i * d + t]! * cent[c * d + t]!;
      if (s > best) {
        best = s;
        bc = c;
      }
    }
    return bc;
  };
  for (let round = 0; round < 5; round++) {
    const sums = new Float64Array(k * d);
    const counts = new Int32Array(k);
    for (const i of sample) {
      const c = nearest(i);
      counts[c]!++;
      for (let t = 0; t < d; t++) sums[c * d + t]! += flat[i * d + t]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        const i = sample[Math.floor(rnd() * sample.length)]!;
        cent.set(flat.subarray(i * d, i * d + d), c * d);
        continue;
      }
      let norm = 0;
      for (let t = 0; t < d; t++) norm += sums[c * d + t]! * sums[c * d + t]!;
      const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let t = 0; t < d; t++) cent[c * d + t] = sums[c * d + t]! * s;
    }
  }
  const groups: number[][] = Array.from({ length: k }, () => []);
  for (const i of members) groups[nearest(i)]!.push(i);
  return groups.filter((g) => g.length).map((g) => Int32Array.from(g));
}
