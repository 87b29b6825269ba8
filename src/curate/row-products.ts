import { availableParallelism } from 'node:os';
import { loadNativeBlas } from '../model/native-blas.js';
import { jsRowProducts, type RowProducts } from './js-row-products.js';
import { threadedRowProducts } from './threaded-products.js';

export { jsRowProducts, type RowProducts };

/**
 * The kernel semantic dedup's clustering runs on: the native BLAS's sgemm where the addon is built (a · bᵀ in one
 * call, tens of GFLOP/s on two cores); else the JS kernel, on every core when there are several. All take the
 * operands as they lie, so callers gather rows once into a contiguous block and hand over views.
 */
export function rowProductsKernel(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): { name: string; products: RowProducts; oneThread: boolean } {
  const blas = loadNativeBlas(env);
  if (blas instanceof Error) return cores > 1 ? { name: `JS on ${cores} threads`, products: threadedRowProducts(cores - 1), oneThread: false } : { name: 'JS', products: jsRowProducts, oneThread: true };
  return {
    name: 'native BLAS',
    oneThread: false,
    products: (a, aRows, b, bRows, d, out) => {
      if (aRows === 0 || bRows === 0) return;
      // The addon checks views against shapes by their whole length, so each is cut to its shape first.
      blas.sgemmBatched(false, true, aRows, bRows, d, a.subarray(0, aRows * d), b.subarray(0, bRows * d), out.subarray(0, aRows * bRows), 1, 0, 0);
    },
  };
}
