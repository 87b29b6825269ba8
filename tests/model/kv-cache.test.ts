import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { forwardHidden, lmHead } from '../../src/model/llama.js';
import { KV_CHUNK, KVCache } from '../../src/model/kv-cache.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  const info = await writeTinyModel(join(mkdtempSync(join(tmpdir(), 'forge-kv-')), 'm'), { arch: 'llama', layers: 1, hidden: 16, heads: 2, kvHeads: 1, intermediate: 32, seed: 9, maxPositionEmbeddings: 1024 });
  model = await loadModel(info.dir);
});
after(() => model.dispose());

const lastLogits = (h: tf.Tensor3D): tf.Tensor2D => lmHead(model, tf.reshape(tf.slice(h, [0, h.shape[1] - 1, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D);

test('400 decoded tokens keep the KV cache in a few chunk-sized shapes, and its logits equal a full forward', () => {
  const prompt = [1, 40, 41, 72, 101];
  const cache = new KVCache();
  const shapes = new Set<string>();
  const seq = [...prompt];
  tf.tidy(() => forwardHidden(model, tf.tensor2d([prompt], [1, prompt.length], 'int32'), { cache }));
  let step: Float32Array | null = null;
  for (let i = 0; i < 400; i++) {
    const id = 5 + ((i * 13) % 200);
    seq.push(id);
    const t = tf.tidy(() => lastLogits(forwardHidden(model, tf.tensor2d([[id]], [1, 1], 'int32'), { cache })));
    if (i === 399) step = t.dataSync() as Float32Array;
    t.dispose();
    const l = cache.layers[0]!;
    shapes.add(`${l.kT.shape.join('x')} ${l.v.shape.join('x')}`);
    assert.equal(l.kT.shape[3], cache.capacity);
    assert.ok(cache.capacity >= cache.length && cache.capacity % KV_CHUNK === 0);
  }
  assert.equal(cache.length, 405);
  // One shape per chunk of 64 positions (7 for 405), where a cache one token longer per step had 400.
  assert.equal(shapes.size, Math.ceil(405 / KV_CHUNK));
  const full = tf.tidy(() => lastLogits(forwardHidden(model, tf.tensor2d([seq], [1, seq.length], 'int32')))).dataSync();
  let diff = 0;
  let mag = 0;
  full.forEach((v, i) => ((diff = Math.max(diff, Math.abs(v - step![i]!))), (mag = Math.max(mag, Math.abs(v)))));
  assert.ok(diff <= 1e-5 * mag, `cached vs full logits after 400 tokens: ${diff} (scale ${mag})`);
  cache.dispose();
});
