/**
 * How the frozen projection matrices are stored on the backend: float32, bfloat16 packed two to a 32-bit word, or
 * int8 LLM.int8()-style (Dettmers et al. 2022): vector-wise absmax scales, one per output channel, with the few
 * input-feature columns that hold outliers kept in float32 so they neither lose precision nor inflate the scales.
 * LoRA, the optimizer and activations stay float32: only these matrices are narrowed, and they are widened back to
 * float32 one matrix at a time where a matMul needs them.
 *
 * Everything here is plain host arithmetic on the [in, out] (transposed) layout the forward matMul reads; the
 * webgpu widening kernels (widen-weights.ts) compute exactly the same values.
 */
export type BaseWeights = 'f32' | 'bf16' | 'int8';
export const BASE_WEIGHTS: readonly BaseWeights[] = ['f32', 'bf16', 'int8'];

/** A weight in bfloat16: element e is the high half of a float32, in the low (e even) or high (e odd) 16 bits of word e>>1. */
export interface Bf16Weight {
  kind: 'bf16';
  rows: number;
  cols: number;
  words: Int32Array;
}

/**
 * A weight in int8: element (i, j) of [rows = in, cols = out] is q·scale[j], q the signed byte (i·cols + j) & 3 of
 * word (i·cols + j) >> 2, except for rows (input features) listed in `slot`, whose values are `outliers[slot·cols + j]`.
 */
export interface Int8Weight {
  kind: 'int8';
  rows: number;
  cols: number;
  words: Int32Array;
  /** per output channel (column of [in, out]) */
  scale: Float32Array;
  /** per input feature: index into the outlier rows, or -1 */
  slot: Int32Array;
  /** float32 rows of the outlier input features, [outlierCount, cols] */
  outliers: Float32Array;
}

export type PackedWeightData = Bf16Weight | Int8Weight;

/** Input features whose column absmax exceeds this many times the median column's are outliers (LLM.int8()'s features of magnitude ≥ 6 are a few per thousand). */
export const OUTLIER_FACTOR = 6;
/** At most this share of input features (and at least one) is kept in float32; the plan budgets for it. */
export const MAX_OUTLIER_SHARE = 0.01;
export const outlierCap = (rows: number): number => Math.max(1, Math.floor(MAX_OUTLIER_SHARE * rows));

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, round to nearest even (exact for values that came from a bf16 checkpoint); NaN stays NaN. */
export function toBf16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBf16Bits(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

export function packBf16(data: Float32Array, rows: number, cols: number): Bf16Weight {
  const n = rows * cols;
  const words = new Int32Array(Math.ceil(n / 2));
  for (let e = 0; e < n; e++) words[e >> 1]! |= toBf16Bits(data[e]!) << (16 * (e & 1));
  return { kind: 'bf16', rows, cols, words };
}

/** Quantises a [rows = in, cols = out] float32 matrix (the transposed Linear weight) to int8 with outlier rows. */
export function packInt8(data: Float32Array, rows: number, cols: number): Int8Weight {
  const rowMax = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let m = 0;
    for (let j = 0; j < cols; j++) m = Math.max(m, Math.abs(data[i * cols + j]!));
    rowMax[i] = m;
  }
  const sorted = Float64Array.from(rowMax).sort();
  const median = sorted[Math.floor(rows / 2)] ?? 0;
  const cap = outlierCap(rows);
  const candidates = [...rowMax.keys()].filter((i) => median > 0 && rowMax[i]! > OUTLIER_FACTOR * median).sort((a, b) => rowMax[b]! - rowMax[a]!);
  const outlierRows = candidates.slice(0, cap).sort((a, b) => a - b);
  const slot = new Int32Array(rows).fill(-1);
  outlierRows.forEach((i, s) => (slot[i] = s));
  const outliers = new Float32Array(Math.max(1, outlierRows.length * cols));
  outlierRows.forEach((i, s) => outliers.set(data.subarray(i * cols, (i + 1) * cols), s * cols));
  const scale = new Float32Array(cols);
  for (let i = 0; i < rows; i++) {
    if (slot[i]! >= 0) continue;
    for (let j = 0; j < cols; j++) scale[j] = Math.max(scale[j]!, Math.abs(data[i * cols + j]!));
  }
  for (let j = 0; j < cols; j++) scale[j] = scale[j]! / 127;
  const words = new Int32Array(Math.ceil((rows * cols) / 4));
  for (let i = 0; i < rows; i++) {
    if (slot[i]! >= 0) continue;
    for (let j = 0; j < cols; j++) {
      const s = scale[j]!;
      const q = s > 0 ? Math.max(-127, Math.min(127, Math.round(data[i * cols + j]! / s))) : 0;
      const e = i * cols + j;
      words[e >> 2]! |= (q & 0xff) << (8 * (e & 3));
    }
  }
  return { kind: 'int8', rows, cols, words, scale, slot, outliers };
}

export function packWeight(kind: Exclude<BaseWeights, 'f32'>, data: Float32Array, rows: number, cols: number): PackedWeightData {
  return kind === 'bf16' ? packBf16(data, rows, cols) : packInt8(data, rows, cols);
}

/** The float32 values a packed weight stands for, [rows, cols] row-major: what every backend computes with. */
export function unpackWeight(p: PackedWeightData): Float32Array {
  const n = p.rows * p.cols;
  const out = new Float32Array(n);
  if (p.kind === 'bf16') {
    for (let e = 0; e < n; e++) out[e] = fromBf16Bits(p.words[e >> 1]! >>> (16 * (e & 1)));
    return out;
  }
  for (let i = 0; i < p.rows; i++) {
    const s = p.slot[i]!;
    for (let j = 0; j < p.cols; j++) {
      const e = i * p.cols + j;
      // (word << (24 − 8k)) >> 24 sign-extends byte k: the same shifts the WGSL kernel uses.
      out[e] = s >= 0 ? p.outliers[s * p.cols + j]! : Math.fround(((p.words[e >> 2]! << (24 - 8 * (e & 3))) >> 24) * p.scale[j]!);
    }
  }
  return out;
}

/** Bytes a [rows, cols] matrix takes on the backend in each format (int8: at the outlier cap, the plan's worst case). */
export function weightBytes(kind: BaseWeights, rows: number, cols: number): number {
  const n = rows * cols;
  if (kind === 'f32') return 4 * n;
  if (kind === 'bf16') return 4 * Math.ceil(n / 2);
  return 4 * Math.ceil(n / 4) + 4 * cols + 4 * rows + 4 * outlierCap(rows) * cols;
}

/** Bytes a packed weight actually takes (its outliers as found). */
export function packedBytes(p: PackedWeightData): number {
  return p.kind === 'bf16' ? 4 * p.words.length : 4 * (p.words.length + p.scale.length + p.slot.length + p.outliers.length);
}
