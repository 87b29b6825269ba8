import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { randomNormal } from '../helpers/tiny-model.js';

before(async () => {
  await selectBackend('wasm');
});

/** The reference: index arithmetic on a plain nested array. */
function sliceRef(data: number[], shape: number[], begin: number[], size: number[]): number[] {
  const out: number[] = [];
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const walk = (d: number, off: number) => {
    if (d === shape.length) return void out.push(data[off]!);
    for (let i = begin[d]!; i < begin[d]! + size[d]!; i++) walk(d + 1, off + i * strides[d]!);
  };
  walk(0, 0);
  return out;
}

test('patched wasm Slice / SplitV / Unpack copy exactly the requested elements', () => {
  for (const k of ['Slice', 'SplitV', 'Unpack']) assert.match(String(tf.getKernel(k, 'wasm')?.kernelFunc), /heapSlice/, `${k} is the patched kernel`);
  const rnd = randomNormal(3);
  const shapes = [[7], [5, 6], [3, 4, 5], [2, 3, 4, 6], [2, 2, 3, 2, 4]];
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Array.from({ length: n }, () => Math.round(rnd() * 1000) / 10);
    const x = tf.tensor(data, shape);
    for (let trial = 0; trial < 6; trial++) {
      const begin = shape.map((d, i) => (trial + i) % d);
      const size = shape.map((d, i) => Math.max(1, (d - begin[i]! - ((trial + 2 * i) % 2))));
      const got = tf.slice(x, begin, size);
      assert.deepEqual([...got.dataSync()].map((v) => Math.round(v * 10) / 10), sliceRef(data, shape, begin, size), `slice ${JSON.stringify({ shape, begin, size })}`);
      got.dispose();
    }
    const axis = shape.length - 1;
    const parts = tf.split(x, [1, shape[axis]! - 1].filter((s) => s > 0), axis);
    const back = tf.concat(parts, axis);
    assert.deepEqual([...back.dataSync()], [...x.dataSync()]);
    const rows = tf.unstack(x, 0);
    assert.equal(rows.length, shape[0]);
    rows.forEach((r, i) => assert.deepEqual([...r.dataSync()].map((v) => Math.round(v * 10) / 10), sliceRef(data, shape, shape.map((_, d) => (d === 0 ? i : 0)), shape.map((s, d) => (d === 0 ? 1 : s)))));
    tf.dispose([x, back, ...parts, ...rows]);
  }
  const ints = tf.tensor2d([[1, 2, 3], [4, 5, 6]], [2, 3], 'int32');
  assert.deepEqual(tf.slice(ints, [1, 1], [1, 2]).arraySync(), [[5, 6]]);
});
