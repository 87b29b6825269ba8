import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { adapterOptions, forwardHidden, lmHead, type ForwardAdapter } from '../../src/model/llama.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { perExampleNll } from '../../src/model/loss.js';
import { openSafetensors } from '../../src/model/safetensors.js';
import { loadAdapter } from '../../src/train/adapters/adapter-io.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { initLoraWeights, type LoraWeights } from '../../src/train/adapters/lora-weights.js';
import { mergeAdapter } from '../../src/train/adapters/merge.js';
import { writeAdapter } from '../../src/train/adapters/peft-files.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { randomNormal, writeTinyModel } from '../helpers/tiny-model.js';
import { SAMPLES, tempDir, tinyModel } from './fixtures.js';

let root: string;
let base: LlamaModel;

before(async () => {
  await selectBackend('wasm');
  root = tempDir('adapter');
  base = await loadModel((await tinyModel(root)).dir);
});

function trainedLikeAdapter(model: LlamaModel, modules: LoraWeights['spec']['targetModules'], useRslora = false): LoraWeights {
  const w = initLoraWeights({ r: 4, alpha: 16, dropout: 0.05, targetModules: modules, useRslora }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 3);
  const rnd = randomNormal(4);
  for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = rnd() * 0.2;
  return w;
}

function batchFor(model: LlamaModel) {
  const enc = SAMPLES.slice(0, 3).map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
  return { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) };
}

function logits(model: LlamaModel, ids: number[], lora?: ForwardAdapter): Float32Array {
  const t = tf.tidy(() => {
    const h = forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32'), adapterOptions(lora));
    return lmHead(model, tf.reshape(h, [ids.length, model.config.hiddenSize]) as tf.Tensor2D);
  });
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}

test('a saved adapter reloaded gives the same score as the adapter in memory', async () => {
  const w = trainedLikeAdapter(base, ['q_proj', 'v_proj', 'up_proj']);
  const inMemory = new LoraRuntime(w);
  const batch = batchFor(base);
  const expected = await perExampleNll(base, batch, inMemory.hook());
  const plain = await perExampleNll(base, batch);
  const dir = join(root, 'saved');
  writeAdapter(dir, w, { baseModel: base.dir });
  const reloaded = await perExampleNll(base, batch, await loadAdapter(dir, base));
  assert.deepEqual(reloaded, expected);
  assert.notDeepEqual(plain, expected, 'the adapter must change the score for this test to mean anything');
  inMemory.dispose();
});

test('the merged checkpoint gives the logits of base + adapter', async () => {
  const w = trainedLikeAdapter(base, ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], true);
  const adapterDir = join(root, 'to-merge');
  writeAdapter(adapterDir, w, { baseModel: base.dir });
  const out = join(root, 'merged');
  const res = await mergeAdapter({ model: base.dir, adapter: adapterDir, out });
  assert.equal(res.mergedModules, 2 * 7);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) assert.ok(existsSync(join(out, f)), f);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), JSON.parse(readFileSync(join(base.dir, 'config.json'), 'utf8')));
  const merged = await loadModel(out);
  const ids = batchFor(base).inputIds[1]!;
  const hook = await loadAdapter(adapterDir, base);
  const want = logits(base, ids, hook);
  const got = logits(merged, ids);
  const plain = logits(base, ids);
  let maxErr = 0;
  let maxChange = 0;
  for (let i = 0; i < want.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
    maxChange = Math.max(maxChange, Math.abs(plain[i]! - want[i]!));
  }
  assert.ok(maxChange > 0.1, `adapter changes logits by ${maxChange}`);
  assert.ok(maxErr < 1e-3, `merged vs base+adapter: max |Δlogit| ${maxErr}`);
  merged.dispose();
});

test('merge keeps the base dtype and shard layout, and refuses a non-empty --out', async () => {
  const info = await writeTinyModel(join(root, 'bf16'), { arch: 'qwen2', dtype: 'BF16', sharded: true, seed: 2 });
  const m = await loadModel(info.dir);
  const adapterDir = join(root, 'bf16-adapter');
  writeAdapter(adapterDir, trainedLikeAdapter(m, ['q_proj', 'v_proj']), { baseModel: info.dir });
  m.dispose();
  const out = join(root, 'bf16-merged');
  const res = await mergeAdapter({ model: info.dir, adapter: adapterDir, out });
  assert.ok(res.files.length > 1, 'sharded base gives sharded output');
  assert.ok(existsSync(join(out, 'model.safetensors.index.json')));
  for (const file of res.files) {
    const f = openSafetensors(file);
    for (const n of f.names()) assert.equal(f.info(n).dtype, 'BF16', n);
    f.close();
  }
  const merged = await loadModel(out);
  merged.dispose();
  await assert.rejects(mergeAdapter({ model: info.dir, adapter: adapterDir, out }), /is not empty/);
  await assert.rejects(mergeAdapter({ model: base.dir, adapter: adapterDir, out: join(root, 'x') }), /do not fit|does not belong|not have/);
});
