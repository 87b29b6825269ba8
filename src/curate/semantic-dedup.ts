import { seededRandom } from '../random.js';

export interface SemanticOptions {
  /** Cosine similarity at which an item duplicates an earlier kept one. */
  threshold: number;
  /** Up to this many items every pair is compared; above it, items are clustered first. Default 4,096. */
  exactLimit?: number;
  /** Items per leaf cluster the two-level k-means aims for. Default 64. */
  leafSize?: number;
  /** Leaf clusters each item is compared in: its nearest, or its nearest two. Default 2. */
  probes?: 1 | 2;
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
 * than n²), then compare only near each other. Every kept item joins its nearest leaf; every item is compared with
 * the kept items of its two nearest leaves (drawn from its two nearest top clusters), so a pair split by a cluster
 * border is still found unless both borders fall between them. bench/dedup.ts measures that recall against all
 * pairs. The result depends only on the vectors, the order and the seed.
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
  const probes = opts.probes ?? 2;
  const leaves = n <= (opts.exactLimit ?? 4096) ? { home: new Int32Array(n), second: null, count: 1 } : clusterLeaves(flat, d, n, opts.leafSize ?? 64, opts.seed ?? 1, probes);
  // Rows regrouped leaf by leaf, so the kept items a comparison walks lie together in memory.
  const row = groupRows(flat, d, leaves.home, leaves.count);
  const kept: number[][] = Array.from({ length: leaves.count }, () => []);
  const sims = new Float64Array(4);
  const keptRank: number[][] = Array.from({ length: leaves.count }, () => []);
  for (let r = 0; r < order.length; r++) {
    const i = order[r]!;
    const at = row[i]! * d;
    let best = -2;
    let bestRank = Infinity;
    let bestJ = -1;
    const home = leaves.home[i]!;
    const second = leaves.second?.[i] ?? -1;
    for (const leaf of second >= 0 && second !== home ? [home, second] : [home]) {
      const ks = kept[leaf]!;
      const ranks = keptRank[leaf]!;
      for (let m = 0; m < ks.length; m += 4) {
        const left = Math.min(4, ks.length - m);
        dot4(flat, at, flat, row[ks[m]!]! * d, row[ks[m + Math.min(1, left - 1)]!]! * d, row[ks[m + Math.min(2, left - 1)]!]! * d, row[ks[m + Math.min(3, left - 1)]!]! * d, d, sims);
        for (let q = 0; q < left; q++) {
          const c = sims[q]!;
          // The most similar kept item; on a tie, the one visited first (as all pairs in order would choose).
          if (c > best || (c === best && ranks[m + q]! < bestRank)) {
            best = c;
            bestRank = ranks[m + q]!;
            bestJ = ks[m + q]!;
          }
        }
      }
    }
    if (bestJ >= 0 && best >= opts.threshold) out[i] = { of: bestJ, cosine: Math.min(1, best) };
    else {
      kept[home]!.push(i);
      keptRank[home]!.push(r);
    }
  }
  return out;
}

/** Four dot products of row i of `a` with rows j0…j3 of `b` in one pass, so row i is read once for all four. */
function dot4(a: Float32Array, i: number, b: Float32Array, j0: number, j1: number, j2: number, j3: number, d: number, out: Float64Array): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let k = 0; k < d; k++) {
    const x = a[i + k]!;
    s0 += x * b[j0 + k]!;
    s1 += x * b[j1 + k]!;
    s2 += x * b[j2 + k]!;
    s3 += x * b[j3 + k]!;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/** Dot products of row i of `flat` with each of the k rows of `cent`, into out[0…k). */
const four = new Float64Array(4);
function dotAll(flat: Float32Array, i: number, cent: Float32Array, k: number, d: number, out: Float64Array): void {
  for (let c = 0; c < k; c += 4) {
    const last = k - 1;
    dot4(flat, i, cent, c * d, Math.min(c + 1, last) * d, Math.min(c + 2, last) * d, Math.min(c + 3, last) * d, d, four);
    for (let q = 0; q < 4 && c + q < k; q++) out[c + q] = four[q]!;
  }
}

/**
 * Moves the rows of `flat` in place so that each leaf's items are contiguous (a cycle walk with one spare row);
 * returns each item's row.
 */
function groupRows(flat: Float32Array, d: number, home: Int32Array, count: number): Int32Array {
  const n = home.length;
  const start = new Int32Array(count + 1);
  for (let i = 0; i < n; i++) start[home[i]! + 1]!++;
  for (let l = 0; l < count; l++) start[l + 1]! += start[l]!;
  const row = new Int32Array(n);
  for (let i = 0; i < n; i++) row[i] = start[home[i]!]!++;
  // Rows start in item order; item x goes to row[x]. Each cycle x → row[x] → … is walked once, carrying one row.
  const carry = new Float32Array(d);
  const tmp = new Float32Array(d);
  const done = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    if (done[p]) continue;
    carry.set(flat.subarray(p * d, p * d + d));
    for (let x = p; ; ) {
      done[x] = 1;
      const t = row[x]!;
      tmp.set(flat.subarray(t * d, t * d + d));
      flat.set(carry, t * d);
      if (t === p) break;
      carry.set(tmp);
      x = t;
    }
  }
  return row;
}

interface Leaves {
  /** Per item: the nearest leaf, where it is kept. */
  home: Int32Array;
  /** Per item: the second nearest leaf, also searched; null with one probe. */
  second: Int32Array | null;
  count: number;
}

/**
 * Two levels of k-means: √(n/leaf) top clusters, each split into about size/leaf leaves. Each item's leaves are
 * the nearest two of those in its nearest two top clusters (only its nearest top cluster's with one probe).
 */
function clusterLeaves(flat: Float32Array, d: number, n: number, leaf: number, seed: number, probes: 1 | 2): Leaves {
  const rnd = seededRandom(seed);
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  const top = fitCentroids(flat, d, all, Math.max(1, Math.ceil(Math.sqrt(n / leaf))), rnd);
  const k1 = top.length / d;
  const near1 = new Int32Array(n);
  const near2 = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const [a, b] = nearestTwo(flat, i * d, top, k1, d);
    near1[i] = a;
    near2[i] = b;
  }
  const members: number[][] = Array.from({ length: k1 }, () => []);
  for (let i = 0; i < n; i++) members[near1[i]!]!.push(i);
  // Leaf centroids of every top cluster, numbered globally.
  const firstLeaf = new Int32Array(k1 + 1);
  const leafCent: Float32Array[] = [];
  for (let c = 0; c < k1; c++) {
    const m = members[c]!;
    const sub = m.length <= leaf * 2 ? top.slice(c * d, c * d + d) : fitCentroids(flat, d, Int32Array.from(m), Math.ceil(m.length / leaf), rnd);
    leafCent.push(sub);
    firstLeaf[c + 1] = firstLeaf[c]! + sub.length / d;
  }
  const home = new Int32Array(n);
  const second = probes === 2 ? new Int32Array(n) : null;
  let scores = new Float64Array(64);
  for (let i = 0; i < n; i++) {
    let b1 = -Infinity;
    let b2 = -Infinity;
    let l1 = -1;
    let l2 = -1;
    const tops = probes === 2 && near2[i]! >= 0 ? [near1[i]!, near2[i]!] : [near1[i]!];
    for (const c of tops) {
      const cent = leafCent[c]!;
      const k = cent.length / d;
      if (scores.length < k) scores = new Float64Array(k);
      dotAll(flat, i * d, cent, k, d, scores);
      for (let l = 0; l < k; l++) {
        const s = scores[l]!;
        const id = firstLeaf[c]! + l;
        if (s > b1) {
          b2 = b1;
          l2 = l1;
          b1 = s;
          l1 = id;
        } else if (s > b2) {
          b2 = s;
          l2 = id;
        }
      }
    }
    home[i] = l1;
    if (second) second[i] = l2;
  }
  return { home, second, count: firstLeaf[k1]! };
}

/** The nearest and second nearest of k centroids (second is -1 when k = 1). */
function nearestTwo(flat: Float32Array, at: number, cent: Float32Array, k: number, d: number): [number, number] {
  if (nearScores.length < k) nearScores = new Float64Array(k);
  dotAll(flat, at, cent, k, d, nearScores);
  let b1 = -Infinity;
  let b2 = -Infinity;
  let c1 = 0;
  let c2 = -1;
  for (let c = 0; c < k; c++) {
    const s = nearScores[c]!;
    if (s > b1) {
      b2 = b1;
      c2 = c1;
      b1 = s;
      c1 = c;
    } else if (s > b2) {
      b2 = s;
      c2 = c;
    }
  }
  return [c1, k > 1 ? c2 : -1];
}
let nearScores = new Float64Array(64);

/**
 * Spherical k-means centroids of `members` (k × d, row-major), fitted on a sample (16 per cluster, 5 rounds).
 * Empty clusters are reseeded from the sample; with k ≤ 1 or too few members, their mean is the one centroid.
 */
function fitCentroids(flat: Float32Array, d: number, members: Int32Array, k: number, rnd: () => number): Float32Array {
  if (k <= 1 || members.length <= k) return meanDirection(flat, d, members);
  const sample: number[] = [];
  const want = Math.min(members.length, k * 16);
  for (let s = 0; s < want; s++) sample.push(members[Math.floor(rnd() * members.length)]!);
  const cent = new Float32Array(k * d);
  for (let c = 0; c < k; c++) cent.set(flat.subarray(sample[c]! * d, sample[c]! * d + d), c * d);
  for (let round = 0; round < 5; round++) {
    const sums = new Float64Array(k * d);
    const counts = new Int32Array(k);
    for (const i of sample) {
      const c = nearestTwo(flat, i * d, cent, k, d)[0];
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
  return cent;
}

function meanDirection(flat: Float32Array, d: number, members: Int32Array): Float32Array {
  const sum = new Float64Array(d);
  for (const i of members) for (let t = 0; t < d; t++) sum[t]! += flat[i * d + t]!;
  let norm = 0;
  for (let t = 0; t < d; t++) norm += sum[t]! * sum[t]!;
  const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return Float32Array.from(sum, (x) => x * s);
}
