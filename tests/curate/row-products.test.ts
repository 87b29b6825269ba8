import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { jsRowProducts, rowProductsKernel } from '../../src/curate/row-products.js';
import { semanticDuplicates } from '../../src/curate/semantic-dedup.js';
import { seededRandom } from '../../src/random.js';
import { chunksByWorkers } from '../../src/curate/threaded-products.js';
import { skipWithoutNativeBlas } from '../helpers/native-blas.js';

const rnd = seededRandom(9);
const rows = (n: number, d: number) => Float32Array.from({ length: n * d }, () => rnd() - 0.5);

function plain(a: Float32Array, m: number, b: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let k = 0; k < d; k++) out[i * n + j]! += a[i * d + k]! * b[j * d + k]!;
  return out;
}

for (const [name, products] of [['JS', jsRowProducts], ['native BLAS', rowProductsKernel({}).products]] as const) {
  const skip = name === 'native BLAS' && skipWithoutNativeBlas('the native row-products test');
  test(`${name} row products equal plain dot products, with row counts that are not multiples of 4 and views longer than their shape`, { skip }, () => {
    for (const [m, n, d] of [[1, 1, 3], [5, 7, 13], [33, 6, 64]] as const) {
      const a = rows(m + 2, d);
      const b = rows(n + 3, d);
      const out = new Float32Array(m * n + 11).fill(42);
      products(a, m, b, n, d, out);
      const want = plain(a, m, b, n, d);
      want.forEach((w, i) => assert.ok(Math.abs(out[i]! - w) < 1e-5, `${m}×${n}×${d} at ${i}: ${out[i]} vs ${w}`));
      // Nothing past the m × n block is written.
      assert.ok(out.subarray(m * n).every((x) => x === 42));
    }
  });
}

test('clustering on the native BLAS and on JS finds the same paraphrases', { skip: skipWithoutNativeBlas('the native clustering comparison') }, () => {
  const d = 48;
  const centers = Array.from({ length: 120 }, () => Float32Array.from({ length: d }, () => rnd() - 0.5));
  const vectors = Array.from({ length: 2400 }, (_, i) => Float32Array.from(centers[i % centers.length]!, (x) => x + (rnd() - 0.5) * 0.05));
  const order = vectors.map((_, i) => i);
  const opts = { threshold: 0.95, exactLimit: 100, leafSize: 16 };
  const js = semanticDuplicates(vectors, order, { ...opts, products: jsRowProducts });
  const native = semanticDuplicates(vectors, order, { ...opts, products: rowProductsKernel({}).products });
  const agree = js.filter((x, i) => (x === null) === (native[i] === null)).length;
  assert.ok(js.filter(Boolean).length > 2000);
  assert.ok(agree / js.length >= 0.995, `agreement ${agree}/${js.length}`);
});

test('the JS kernel on several threads equals one thread to the bit, and the workers take part', async () => {
  const kernel = rowProductsKernel({ ALPACA_FORGE_NO_NATIVE: '1' }, 3);
  assert.equal(kernel.name, 'JS on 3 threads');
  const check = (m: number, n: number, d: number) => {
    const a = rows(m, d);
    const b = rows(n, d);
    const one = new Float32Array(m * n);
    const many = new Float32Array(m * n + 5).fill(42);
    jsRowProducts(a, m, b, n, d, one);
    kernel.products(a, m, b, n, d, many);
    assert.ok(one.every((x, i) => x === many[i]), `${m}×${n}×${d}`);
    assert.ok(many.subarray(m * n).every((x) => x === 42), 'nothing past the block is written');
  };
  // The first call starts the workers and does not wait for them: the calling thread computes it alone.
  check(301, 40, 96);
  for (let waited = 0; chunksByWorkers() === 0 && waited < 20000; waited += 100) {
    await delay(100);
    check(513, 33, 64);
  }
  assert.ok(chunksByWorkers() > 0, 'the workers computed chunks');
  for (const [m, n, d] of [[1024, 56, 48], [7, 300, 200], [2, 129, 1025]] as const) check(m, n, d);
});
