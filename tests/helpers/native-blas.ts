import { loadNativeBlas } from '../../src/model/native-blas.js';

/**
 * Tests of the native BLAS path skip, with one loud line, where the addon was not built (no BLAS or no compiler
 * at `npm install`); CI installs libopenblas-dev so that they run there.
 */
export function skipWithoutNativeBlas(what = 'native-backend tests'): string | false {
  const blas = loadNativeBlas({});
  if (!(blas instanceof Error)) return false;
  const why = `native BLAS addon unavailable (${blas.message}): apt-get install libopenblas-dev, then npm rebuild`;
  console.error(`!!! SKIPPING ${what}: ${why} !!!`);
  return why;
}
