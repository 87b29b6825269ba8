import { loadNativeBlas } from '../model/native-blas.js';

/** out[i·bRows + j] = (row i of a) · (row j of b), for row-major rows of length d. */
export type RowProducts = (a: Float32Array, aRows: number, b: Float32Array, bRows: number, d: number, out: Float32Array) => void;

/**
 * The kernel semantic dedup's clustering runs on: the native BLAS's sgemm where the addon is built (a · bᵀ in one
 * call, tens of GFLOP/s on two cores), plain JS otherwise. Both take the operands as they lie, so callers gather
 * rows once into a contiguous block and hand over views.
 */
export function rowProductsKernel(env: NodeJS.ProcessEnv = process.env): { name: 'native BLAS' | 'JS'; products: RowProducts } {
  const blas = loadNativeBlas(env);
  if (blas instanceof Error) return { name: 'JS', products: jsRowProducts };
  return {
    name: 'native BLAS',
    products: (a, aRows, b, bRows, d, out) => {
      if (aRows === 0 || bRows === 0) return;
      // The addon checks views against shapes by their whole length, so each is cut to its shape first.
      blas.sgemmBatched(false, true, aRows, bRows, d, a.subarray(0, aRows * d), b.subarray(0, bRows * d), out.subarray(0, aRows * bRows), 1, 0, 0);
    },
  };
}

/** Row i of a against rows j…j+3 of b in one pass, so row i is read once for all four (V8 keeps the sums in registers). */
export const jsRowProducts: RowProducts = (a, aRows, b, bRows, d, out) => {
  for (let i = 0; i < aRows; i++) {
    const ai = i * d;
    const oi = i * bRows;
    for (let j = 0; j < bRows; j += 4) {
      const last = bRows - 1;
      const b0 = j * d;
      const b1 = Math.min(j + 1, last) * d;
      const b2 = Math.min(j + 2, last) * d;
      const b3 = Math.min(j + 3, last) * d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < d; k++) {
        const x = a[ai + k]!;
        s0 += x * b[b0 + k]!;
        s1 += x * b[b1 + k]!;
        s2 += x * b[b2 + k]!;
        s3 += x * b[b3 + k]!;
      }
      out[oi + j] = s0;
      if (j + 1 < bRows) out[oi + j + 1] = s1;
      if (j + 2 < bRows) out[oi + j + 2] = s2;
      if (j + 3 < bRows) out[oi + j + 3] = s3;
    }
  }
};
