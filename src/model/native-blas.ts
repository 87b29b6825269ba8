import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon built from native/ at `npm install` (single-precision GEMM from the system's CBLAS). */
export interface NativeBlas {
  /**
   * c[i] = alpha·op(a[i])·op(b[i]) + beta·c[i] for i < batch, row-major (alpha 1, beta 0 when omitted); a stride
   * of 0 repeats that operand (broadcast batch).
   */
  sgemmBatched(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array, batch: number, strideA: number, strideB: number, alpha?: number, beta?: number): void;
  /** Sets OpenBLAS's thread count; false where the library has no such control. */
  setThreads(n: number): boolean;
  /** OpenBLAS's thread count, 0 where unknown. */
  threads(): number;
  /** The library's build line, e.g. "OpenBLAS 0.3.21 … Zen MAX_THREADS=64". */
  config(): string;
}

/** How to get the fast CPU path, shown wherever it is missing. */
export const NATIVE_BLAS_HINT = 'for the fast CPU path install a BLAS (apt-get install libopenblas-dev; macOS has Accelerate) and a C compiler, then run npm rebuild';

/** Set to 1 to behave as if the addon were not built (at install: skip the build; at run time: do not load it). */
export const NO_NATIVE_ENV = 'ALPACA_FORGE_NO_NATIVE';

let loaded: NativeBlas | null = null;
let failure: Error | null = null;

/** The addon, or an Error saying why it is not there (never throws). */
export function loadNativeBlas(env: NodeJS.ProcessEnv = process.env): NativeBlas | Error {
  if (env[NO_NATIVE_ENV] === '1') return new Error(`${NO_NATIVE_ENV}=1 is set`);
  if (loaded) return loaded;
  if (failure) return failure;
  // src/model/ under tsx, dist/src/model/ once built: the package root is two or three folders up.
  const candidates = ['../../native/build/Release/alpaca_blas.node', '../../../native/build/Release/alpaca_blas.node'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    failure = new Error('the native BLAS addon is not built');
    return failure;
  }
  try {
    loaded = createRequire(import.meta.url)(path) as NativeBlas;
    return loaded;
  } catch (e) {
    failure = new Error(`the native BLAS addon does not load (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`, { cause: e });
    return failure;
  }
}
