import type { RowProducts } from './js-row-products.js';

/**
 * The cosines semantic dedup's walk reads, computed ahead as matrix products: per leaf, every visitor (an item whose
 * home or second leaf it is) against the leaf's members, in blocks, so the walk does a table lookup where it would
 * otherwise do a 768-long dot product, and the products run on the BLAS or on every core. A visitor only meets
 * members visited before it, so each block of visitors (in keep order) is multiplied by the members ranked before
 * its last one: about half the full table's work.
 */
export interface LeafTables {
  /** Per leaf: row-major visitors × members (members in keep order), or null where the leaf is compared on demand. */
  sims: Array<Float32Array | null>;
  /** Per leaf: its member count, the table's row length. */
  width: Int32Array;
  /** Per item: its row in its home leaf's table, and in its second leaf's (-1 where it has none). */
  homeRow: Int32Array;
  secondRow: Int32Array;
}

/** Visitor rows one product block holds. */
const BLOCK = 64;
/** The largest table one leaf may have (floats); a bigger leaf (thousands of near-copies) is compared on demand. */
const LEAF_CAP = 1 << 22;

/**
 * Tables for the leaves that fit in `budget` floats, taken in leaf order. `row`/`leafStart` place each item's
 * normalised vector in `flat`, each leaf's members contiguous and in keep order; `rank` is each item's place in
 * that order.
 */
export function leafTables(
  flat: Float32Array,
  d: number,
  leaves: { home: Int32Array; second: Int32Array | null; count: number },
  row: Int32Array,
  leafStart: Int32Array,
  rank: Int32Array,
  products: RowProducts,
  budget: number,
): LeafTables {
  const n = leaves.home.length;
  const count = leaves.count;
  const width = new Int32Array(count);
  for (let l = 0; l < count; l++) width[l] = leafStart[l + 1]! - leafStart[l]!;
  const visitors: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < n; i++) {
    visitors[leaves.home[i]!]!.push(i);
    const s = leaves.second?.[i] ?? -1;
    if (s >= 0 && s !== leaves.home[i]) visitors[s]!.push(i);
  }
  const homeRow = new Int32Array(n).fill(-1);
  const secondRow = new Int32Array(n).fill(-1);
  const sims: Array<Float32Array | null> = new Array(count).fill(null);
  const rowItem = new Int32Array(n);
  for (let i = 0; i < n; i++) rowItem[row[i]!] = i;
  const memberRank = (l: number, p: number) => rank[rowItem[leafStart[l]! + p]!]!;
  const block = new Float32Array(BLOCK * d);
  let spent = 0;
  for (let l = 0; l < count; l++) {
    const vs = visitors[l]!.sort((a, b) => rank[a]! - rank[b]!);
    vs.forEach((i, v) => {
      if (leaves.home[i] === l) homeRow[i] = v;
      else secondRow[i] = v;
    });
    const w = width[l]!;
    const size = vs.length * w;
    if (size > LEAF_CAP || spent + size > budget) continue;
    spent += size;
    const table = new Float32Array(size);
    const scores = new Float32Array(BLOCK * w);
    const members = flat.subarray(leafStart[l]! * d, leafStart[l + 1]! * d);
    for (let v0 = 0; v0 < vs.length; v0 += BLOCK) {
      const m = Math.min(BLOCK, vs.length - v0);
      // Members ranked before the block's last visitor: the only ones any visitor in the block can meet.
      const last = rank[vs[v0 + m - 1]!]!;
      let cols = 0;
      for (let hi = w; cols < hi; ) {
        const mid = (cols + hi) >> 1;
        if (memberRank(l, mid) < last) cols = mid + 1;
        else hi = mid;
      }
      if (cols === 0) continue;
      for (let r = 0; r < m; r++) block.set(flat.subarray(row[vs[v0 + r]!]! * d, row[vs[v0 + r]!]! * d + d), r * d);
      products(block, m, members, cols, d, scores);
      for (let r = 0; r < m; r++) table.set(scores.subarray(r * cols, r * cols + cols), (v0 + r) * w);
    }
    sims[l] = table;
  }
  return { sims, width, homeRow, secondRow };
}
