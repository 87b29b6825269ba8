import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { forwardHidden, lmHead } from '../../src/model/llama.js';
import { KVCache } from '../../src/model/kv-cache.js';
import { generate, generateBatch } from '../../src/model/generate.js';
import { argmax } from '../../src/model/sampling.js';
import { scoreSamples } from '../../src/model/score-samples.js';
import { responseNllSum } from '../../src/model/loss.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  const info = await writeTinyModel(join(mkdtempSync(join(tmpdir(), 'forge-decode-')), 'm'), { arch: 'qwen2', heads: 4, kvHeads: 2, seed: 21 });
  model = await loadModel(info.dir);
});
after(() => model.dispose());

const V = () => model.config.vocabSize;

function fullLogits(ids: number[]): Float32Array {
  const t = tf.tidy(() => lmHead(model, tf.reshape(forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32')), [ids.length, -1]) as tf.Tensor2D));
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let mag = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    mag = Math.max(mag, Math.abs(b[i]!));
  }
  return diff / mag;
}

test('KV-cache decoding (chunked prefill, then one token at a time) gives the full forward logits', () => {
  const ids = [model.tokenizer.bosId ?? 1, 40, 41, 72, 101, 33, 9, 200, 17, 5];
  const full = fullLogits(ids);
  const cache = new KVCache();
  const chunks: Array<[number, number]> = [[0, 4], [4, 6], [6, 7], [7, 8], [8, 9], [9, 10]];
  for (const [a, b] of chunks) {
    const part = ids.slice(a, b);
    const t = tf.tidy(() => lmHead(model, tf.reshape(forwardHidden(model, tf.tensor2d([part], [1, part.length], 'int32'), { cache }), [part.length, -1]) as tf.Tensor2D));
    const got = t.dataSync();
    t.dispose();
    const err = maxRelDiff(got, full.subarray(a * V(), b * V()));
    assert.ok(err < 1e-5, `positions ${a}..${b - 1}: relative difference ${err}`);
  }
  assert.equal(cache.length, ids.length);
  cache.dispose();
});

test('greedy generation equals repeated argmax of full forwards, and stops at a stop token', async () => {
  const prompt = model.tokenizer.encode('Say something');
  const res = await generate(model, prompt, { maxNewTokens: 6, temperature: 0 });
  assert.equal(res.ids.length, 6);
  assert.equal(res.stoppedBy, 'length');
  const seq = [...prompt];
  for (let i = 0; i < 6; i++) {
    const logits = fullLogits(seq);
    seq.push(argmax(logits.subarray((seq.length - 1) * V(), seq.length * V())));
  }
  assert.deepEqual(res.ids, seq.slice(prompt.length));
  const stopped = await generate(model, prompt, { maxNewTokens: 6, temperature: 0, stopIds: [res.ids[2]!] });
  assert.equal(stopped.stoppedBy, 'eos');
  assert.deepEqual(stopped.ids, res.ids.slice(0, 2));
});

test('sampling is reproducible with a seed, varies across seeds, and top-k 1 is greedy', async () => {
  const prompt = model.tokenizer.encode('Tell a story');
  const opts = { maxNewTokens: 12, temperature: 1.5, topP: 0.95, stopIds: [] };
  const a = await generate(model, prompt, { ...opts, seed: 1 });
  const b = await generate(model, prompt, { ...opts, seed: 1 });
  assert.deepEqual(a.ids, b.ids);
  const others: string[] = [];
  for (const seed of [2, 3, 4]) others.push((await generate(model, prompt, { ...opts, seed })).ids.join(','));
  assert.ok(others.some((o) => o !== a.ids.join(',')), 'different seeds should give different samples');
  const greedy = await generate(model, prompt, { maxNewTokens: 8, temperature: 0, stopIds: [] });
  const topk1 = await generate(model, prompt, { maxNewTokens: 8, temperature: 2, topK: 1, seed: 9, stopIds: [] });
  assert.deepEqual(topk1.ids, greedy.ids);
});

const samples = [
  { instruction: 'Give three tips for staying healthy.', input: '', output: 'Eat well, sleep, move.' },
  { instruction: 'Translate', input: 'bonjour', output: 'hello' },
  { instruction: 'What is the capital of France? Answer in a full sentence please.', input: '', output: 'The capital of France is Paris, a city on the Seine.' },
  { instruction: 'Sum', input: '1 2', output: '3' },
];

test('batched generation of prompts of different lengths (left-padded) draws what each prompt draws alone, with its seed; a stop ends only its row', async () => {
  const bos = model.tokenizer.bosId ?? 1;
  const prompts = [[bos, 40, 41, 72, 101, 33, 9], [bos, 200], [bos, 17, 5, 88]];
  const opts = { maxNewTokens: 7, temperature: 0.9 };
  const seeds = [11, 12, 13];
  const batch = await generateBatch(model, prompts, { ...opts, seeds });
  for (let i = 0; i < prompts.length; i++) {
    const alone = await generate(model, prompts[i]!, { ...opts, seed: seeds[i]! });
    assert.deepEqual(batch[i]!.ids, alone.ids, `prompt ${i}`);
    assert.equal(batch[i]!.stoppedBy, 'length');
    assert.equal(batch[i]!.promptTokens, prompts[i]!.length);
  }
  // Stopping on the second row's third token ends that row there; the others run on as alone.
  const stopId = batch[1]!.ids[2]!;
  const stopped = await generateBatch(model, prompts, { ...opts, seeds, stopIds: [stopId] });
  for (let i = 0; i < prompts.length; i++) {
    const alone = await generate(model, prompts[i]!, { ...opts, seed: seeds[i]!, stopIds: [stopId] });
    assert.deepEqual(stopped[i]!.ids, alone.ids, `prompt ${i} with a stop id`);
    assert.equal(stopped[i]!.stoppedBy, alone.stoppedBy);
  }
  assert.equal(stopped[1]!.stoppedBy, 'eos');
  assert.ok(stopped[1]!.ids.length <= 2);
});

test('batched scoring with padding equals one-by-one scoring, with IFD', async () => {
  const batched = await scoreSamples(model, samples, { batchSize: 4, ifd: true });
  const single = await scoreSamples(model, samples, { batchSize: 1, ifd: true });
  batched.forEach((s, i) => {
    const o = single[i]!;
    assert.equal(s.tokens, o.tokens);
    assert.ok(s.tokens > 0);
    assert.ok(Math.abs(s.nll - o.nll) < 1e-5 * o.nll, `sample ${i}: ${s.nll} vs ${o.nll}`);
    assert.ok(Math.abs(s.ifd! - o.ifd!) < 1e-5 * o.ifd!);
    assert.ok(Math.abs(s.ifd! - s.nll / s.nllAlone!) < 1e-12);
  });
  // The output + EOS is what is scored.
  const enc = encodeExample(model.tokenizer, samples[1]!, { cutoffLen: 512 });
  assert.equal(batched[1]!.tokens, enc.inputIds.length - enc.promptLength);
});

test('tensor count stays flat across repeated training steps, scoring and generation', async () => {
  const enc = samples.map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
  const batch = { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) };
  const A = tf.variable(tf.randomNormal([model.config.hiddenSize, 2], 0, 0.1));
  const B = tf.variable(tf.randomNormal([2, model.config.hiddenSize], 0, 0.1));
  const hook = (_l: number, m: string, x: tf.Tensor2D) => (m === 'q_proj' ? (tf.matMul(tf.matMul(x, A), B) as tf.Tensor2D) : null);
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => responseNllSum(model, batch, hook), [A, B]);
    tf.dispose([value, ...Object.values(grads)]);
    await scoreSamples(model, samples, { batchSize: 2, ifd: true, lora: hook });
    await generate(model, enc[0]!.inputIds.slice(0, 10), { maxNewTokens: 4, temperature: 0.8, seed: 3, lora: hook });
  };
  await step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) await step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([A, B]);
});
