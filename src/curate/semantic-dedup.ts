import { seededRandom } from '../random.js';
import { rowProductsKernel, type RowProducts } from './row-products.js';
import { leafTables } from './leaf-tables.js';

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
  /** The clustering's and the cosine tables' matrix products. Defaults to the native BLAS where it is built, else JS. */
  products?: RowProducts;
  /**
   * Floats the walk's precomputed cosine tables may hold: default 2^26 (256 MB), or 0 on the one-thread JS kernel,
   * where the tables' products cost more than the dot products they save. 0 compares every pair on demand.
   */
  tableBudget?: number;
}

/**
 * How far a cosine from the tables (float32 products, summed in any order) may be from the exact one, doubled:
 * a 768-long float32 sum of unit vectors errs by under 5e-5, so 1e-3 is a wide margin.
 */
const TABLE_SLACK = 1e-3;

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
 * pairs. The result depends only on the vectors, the order and the seed, and on the kernel that clustered them
 * only where a float's last bit moves an item across a cluster border (BLAS and JS round sums differently). The
 * walk reads cosines from tables of matrix products (leaf-tables.ts) only to rule out kept items far from the
 * threshold and from the best; the cosines that decide and are recorded are computed here, the same everywhere.
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
  const kernel = opts.products ? { products: opts.products, oneThread: false } : rowProductsKernel();
  const products = kernel.products;
  const leaves = n <= (opts.exactLimit ?? 4096) ? { home: new Int32Array(n), second: null, count: 1 } : clusterLeaves(flat, d, n, opts.leafSize ?? 64, opts.seed ?? 1, probes, products);
  // Rows regrouped leaf by leaf and in keep order within a leaf, so a leaf's kept items lie together in memory and
  // the items any visitor meets are a prefix of its leaf.
  const rank = new Int32Array(n).fill(-1);
  order.forEach((i, r) => (rank[i] = r));
  const { row, leafStart } = groupRows(flat, d, leaves.home, leaves.count, rank);
  const tables = leafTables(flat, d, leaves, row, leafStart, rank, products, opts.tableBudget ?? (kernel.oneThread ? 0 : 1 << 26));
  const kept: number[][] = Array.from({ length: leaves.count }, () => []);
  const sims = new Float64Array(4);
  for (let r = 0; r < order.length; r++) {
    const i = order[r]!;
    const at = row[i]! * d;
    const home = leaves.home[i]!;
    const second = leaves.second?.[i] ?? -1;
    const visits = second >= 0 && second !== home ? [home, second] : [home];
    // First the highest cosine: from the table where a leaf has one, else exact (and then already decided there).
    let high = -2;
    let best = { cosine: -2, rank: Infinity, j: -1 };
    const tabled: Array<{ ks: readonly number[]; table: Float32Array; base: number }> = [];
    for (const leaf of visits) {
      const table = tables.sims[leaf];
      const ks = kept[leaf]!;
      if (table) {
        const base = (leaf === home ? tables.homeRow[i]! : tables.secondRow[i]!) * tables.width[leaf]! - leafStart[leaf]!;
        for (const j of ks) high = Math.max(high, table[base + row[j]!]!);
        tabled.push({ ks, table, base });
      } else best = better(best, bestKept(flat, at, d, ks, row, rank, sims));
    }
    high = Math.max(high, best.cosine);
    if (high < opts.threshold - TABLE_SLACK) {
      kept[home]!.push(i);
      continue;
    }
    // Near or over the threshold: the exact cosine decides, over every kept item the tables put near the highest.
    for (const { ks, table, base } of tabled) best = better(best, bestKept(flat, at, d, ks.filter((j) => table[base + row[j]!]! >= high - TABLE_SLACK), row, rank, sims));
    if (best.j >= 0 && best.cosine >= opts.threshold) out[i] = { of: best.j, cosine: Math.min(1, best.cosine) };
    else kept[home]!.push(i);
  }
  return out;
}

/** The more similar of two kept items; on a tie, the one visited first (as all pairs in order would choose). */
function better<T extends { cosine: number; rank: number }>(a: T, b: T): T {
  return b.cosine > a.cosine || (b.cosine === a.cosine && b.rank < a.rank) ? b : a;
}

/** The kept item most similar to the row at `at` by exact cosine (ties: the one ranked first); j is -1 for none. */
function bestKept(flat: Float32Array, at: number, d: number, ks: readonly number[], row: Int32Array, rank: Int32Array, sims: Float64Array): { cosine: number; rank: number; j: number } {
  let best = -2;
  let bestRank = Infinity;
  let bestJ = -1;
  for (let m = 0; m < ks.length; m += 4) {
    const left = Math.min(4, ks.length - m);
    dot4(flat, at, flat, row[ks[m]!]! * d, row[ks[m + Math.min(1, left - 1)]!]! * d, row[ks[m + Math.min(2, left - 1)]!]! * d, row[ks[m + Math.min(3, left - 1)]!]! * d, d, sims);
    for (let q = 0; q < left; q++) {
      const c = sims[q]!;
      const rk = rank[ks[m + q]!]!;
      if (c > best || (c === best && rk < bestRank)) {
        best = c;
        bestRank = rk;
        bestJ = ks[m + q]!;
      }
    }
  }
  return { cosine: best, rank: bestRank, j: bestJ };
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

/**
 * Moves the rows of `flat` in place so that each leaf's items are contiguous, in rank order (items without a rank
 * last), by a cycle walk with one spare row; returns each item's row and where each leaf starts (count + 1 entries).
 */
function groupRows(flat: Float32Array, d: number, home: Int32Array, count: number, rank: Int32Array): { row: Int32Array; leafStart: Int32Array } {
  const n = home.length;
  const leafStart = new Int32Array(count + 1);
  for (let i = 0; i < n; i++) leafStart[home[i]! + 1]!++;
  for (let l = 0; l < count; l++) leafStart[l + 1]! += leafStart[l]!;
  const next = leafStart.slice(0, count);
  const row = new Int32Array(n);
  const byRank = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) if (rank[i]! >= 0) byRank[rank[i]!] = i;
  for (const i of byRank) if (i >= 0) row[i] = next[home[i]!]!++;
  for (let i = 0; i < n; i++) if (rank[i]! < 0) row[i] = next[home[i]!]!++;
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
  return { row, leafStart };
}

interface Leaves {
  /** Per item: the nearest leaf, where it is kept. */
  home: Int32Array;
  /** Per item: the second nearest leaf, also searched; null with one probe. */
  second: Int32Array | null;
  count: number;
}

/** Rows a product block holds: about 4M scores, so a lopsided cluster with thousands of leaves stays in memory. */
const blockRows = (k: number) => Math.max(16, Math.min(1024, Math.floor((1 << 22) / Math.max(1, k))));

/**
 * Two levels of k-means: √(n/leaf) top clusters, each split into about size/leaf leaves. Each item's leaves are
 * the nearest two of those in its nearest two top clusters (only its nearest top cluster's with one probe). Every
 * distance here is a block of row products (a matrix product), which is where clustering spends its time.
 */
function clusterLeaves(flat: Float32Array, d: number, n: number, leaf: number, seed: number, probes: 1 | 2, products: RowProducts): Leaves {
  const rnd = seededRandom(seed);
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  const top = fitCentroids(flat, d, all, Math.max(1, Math.ceil(Math.sqrt(n / leaf))), rnd, products);
  const k1 = top.length / d;
  const near1 = new Int32Array(n);
  const near2 = new Int32Array(n);
  // Items are already contiguous rows, so the top clusters are scored on views of `flat`.
  const rows1 = blockRows(k1);
  const scores1 = new Float32Array(rows1 * k1);
  for (let s = 0; s < n; s += rows1) {
    const m = Math.min(rows1, n - s);
    products(flat.subarray(s * d, (s + m) * d), m, top, k1, d, scores1);
    for (let r = 0; r < m; r++) {
      const [a, b] = bestTwo(scores1, r * k1, k1);
      near1[s + r] = a;
      near2[s + r] = b;
    }
  }
  const members = bucket(near1, k1);
  // Leaf centroids of every top cluster, numbered globally.
  const firstLeaf = new Int32Array(k1 + 1);
  const leafCent: Float32Array[] = [];
  for (let c = 0; c < k1; c++) {
    const m = members[c]!;
    const sub = m.length <= leaf * 2 ? top.slice(c * d, c * d + d) : fitCentroids(flat, d, m, Math.ceil(m.length / leaf), rnd, products);
    leafCent.push(sub);
    firstLeaf[c + 1] = firstLeaf[c]! + sub.length / d;
  }
  // Each item's best two leaves: first among its nearest top cluster's leaves, then its second's (ties keep the
  // leaf seen first). Items are visited cluster by cluster, gathered into blocks.
  const home = new Int32Array(n).fill(-1);
  const second = probes === 2 ? new Int32Array(n).fill(-1) : null;
  const best1 = new Float32Array(n).fill(-Infinity);
  const best2 = new Float32Array(n).fill(-Infinity);
  const far = second ?? new Int32Array(n).fill(-1);
  for (const near of probes === 2 ? [near1, near2] : [near1]) {
    const visitors = near === near1 ? members : bucket(near2, k1);
    for (let c = 0; c < k1; c++) {
      const cent = leafCent[c]!;
      const k = cent.length / d;
      const list = visitors[c]!;
      const rows = blockRows(k);
      const block = new Float32Array(Math.min(rows, list.length) * d);
      const scores = new Float32Array(Math.min(rows, list.length) * k);
      for (let s = 0; s < list.length; s += rows) {
        const m = Math.min(rows, list.length - s);
        for (let r = 0; r < m; r++) block.set(flat.subarray(list[s + r]! * d, list[s + r]! * d + d), r * d);
        products(block, m, cent, k, d, scores);
        for (let r = 0; r < m; r++) {
          const i = list[s + r]!;
          for (let l = 0; l < k; l++) {
            const v = scores[r * k + l]!;
            if (v > best1[i]!) {
              best2[i] = best1[i]!;
              far[i] = home[i]!;
              best1[i] = v;
              home[i] = firstLeaf[c]! + l;
            } else if (v > best2[i]!) {
              best2[i] = v;
              far[i] = firstLeaf[c]! + l;
            }
          }
        }
      }
    }
  }
  return { home, second, count: firstLeaf[k1]! };
}

/** The items of each of k clusters, in item order. */
function bucket(of: Int32Array, k: number): Int32Array[] {
  const sizes = new Int32Array(k);
  for (const c of of) if (c >= 0) sizes[c]!++;
  const out = Array.from(sizes, (size) => new Int32Array(size));
  sizes.fill(0);
  of.forEach((c, i) => {
    if (c >= 0) out[c]![sizes[c]!++] = i;
  });
  return out;
}

/** The best and second best of k scores from `at` (second is -1 when k = 1; ties keep the first). */
function bestTwo(scores: Float32Array, at: number, k: number): [number, number] {
  let b1 = -Infinity;
  let b2 = -Infinity;
  let c1 = 0;
  let c2 = -1;
  for (let c = 0; c < k; c++) {
    const s = scores[at + c]!;
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

/**
 * Spherical k-means centroids of `members` (k × d, row-major), fitted on a sample (16 per cluster, 5 rounds).
 * Empty clusters are reseeded from the sample; with k ≤ 1 or too few members, their mean is the one centroid.
 */
function fitCentroids(flat: Float32Array, d: number, members: Int32Array, k: number, rnd: () => number, products: RowProducts): Float32Array {
  if (k <= 1 || members.length <= k) return meanDirection(flat, d, members);
  const want = Math.min(members.length, k * 16);
  const sample = new Int32Array(want);
  for (let s = 0; s < want; s++) sample[s] = members[Math.floor(rnd() * members.length)]!;
  // The sample gathered once into contiguous rows, which every round scores as blocks.
  const rows = new Float32Array(want * d);
  sample.forEach((i, s) => rows.set(flat.subarray(i * d, i * d + d), s * d));
  const cent = rows.slice(0, k * d);
  const per = blockRows(k);
  const scores = new Float32Array(Math.min(per, want) * k);
  for (let round = 0; round < 5; round++) {
    const sums = new Float64Array(k * d);
    const counts = new Int32Array(k);
    for (let s = 0; s < want; s += per) {
      const m = Math.min(per, want - s);
      products(rows.subarray(s * d, (s + m) * d), m, cent, k, d, scores);
      for (let r = 0; r < m; r++) {
        const c = bestTwo(scores, r * k, k)[0];
        counts[c]!++;
        for (let t = 0; t < d; t++) sums[c * d + t]! += rows[(s + r) * d + t]!;
      }
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
