/**
 * Run as a child process by tests/model/webgpu-memory.test.ts: a read outside any error scope (as score and sample
 * read) of work the GPU rejected, 1.2 GB over SwiftShader's 1 GiB buffers. Prints one JSON line: the value read, or
 * the error it failed with; then the value of a later, valid read.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { ModelError } from '../../src/errors.js';
import { useSoftwareWebGpu } from './webgpu.js';

useSoftwareWebGpu();
await selectBackend('webgpu');
const s = tf.sum(tf.fill([300_000_000], 1));
let outcome: Record<string, unknown>;
try {
  outcome = { value: ((await s.data()) as Float32Array)[0] };
} catch (e) {
  outcome = { typed: e instanceof ModelError, message: (e as Error).message };
}
const after = ((await tf.sum(tf.fill([4], 2)).data()) as Float32Array)[0];
console.log(JSON.stringify({ ...outcome, after }));
