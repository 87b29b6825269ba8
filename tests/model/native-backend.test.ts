/**
 * The `native` backend (wasm kernels, BLAS matMuls through the addon in native/): its products against float64,
 * auto-selection with and without the addon, and score / sample / merge against wasm and the float64 reference.
 * The CLI runs are child processes (one tfjs backend per process); wasm runs in this one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { forgetBackendSelection, selectBackend } from '../../src/model/backend.js';
import { NO_NATIVE_ENV } from '../../src/model/native-blas.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { scoreSamples } from '../../src/model/score-samples.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { generate } from '../../src/model/generate.js';
import { formatAlpacaPrompt } from '../../src/model/alpaca-prompt.js';
import { openSafetensors } from '../../src/model/safetensors.js';
import { mergeAdapter } from '../../src/train/adapters/merge.js';
import { writeAdapter } from '../../src/train/adapters/peft-files.js';
import { initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { runCli, type RunResult } from '../helpers/cli.js';
import { skipWithoutNativeBlas } from '../helpers/native-blas.js';
import { writeTinyModel, randomNormal, type TinyModelInfo } from '../helpers/tiny-model.js';
import { referenceLogits, referenceNll } from './reference.js';

const skip = skipWithoutNativeBlas();
const NATIVE_LABEL = /^backend: native — CPU \(native BLAS: /m;

let root: string;
let info: TinyModelInfo;
let model: LlamaModel;
let adapterDir: string;
let runs: Partial<Record<'score' | 'sample' | 'merge', Promise<RunResult>>> = {};
const INSTRUCTION = 'Say something nice';
const data = [
  { instruction: 'Give three tips for staying healthy.', input: '', output: 'Eat well, sleep, move.' },
  { instruction: 'Translate', input: 'bonjour', output: 'hello' },
  { instruction: 'Sum the numbers', input: '1 2', output: '3' },
];
const native = (args: string[]) => runCli([...args, '--backend', 'native'], { timeoutMs: 120_000 });

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'forge-native-'));
  info = await writeTinyModel(join(root, 'model'), { arch: 'qwen2', heads: 4, kvHeads: 2, layers: 2, seed: 43 });
  writeFileSync(join(root, 'data.jsonl'), data.map((d) => JSON.stringify(d)).join('\n') + '\n');
  await selectBackend('wasm');
  model = await loadModel(info.dir);
  const w = initLoraWeights({ r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 5);
  const rnd = randomNormal(6);
  for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = rnd() * 0.2;
  adapterDir = join(root, 'adapter');
  writeAdapter(adapterDir, w, { baseModel: info.dir });
  runs = {
    score: native(['score', '--model', info.dir, '--data', join(root, 'data.jsonl'), '--out', join(root, 'scores.jsonl')]),
    sample: native(['sample', '--model', info.dir, '--instruction', INSTRUCTION, '--max-new-tokens', '4', '--temperature', '0']),
    merge: native(['merge', '--model', info.dir, '--adapter', adapterDir, '--out', join(root, 'merged-native'), '--json']),
  };
});

after(async () => {
  await Promise.allSettled(Object.values(runs));
  model?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** op(a)·op(b) in float64 over broadcast batches, from the tensors' own values. */
async function reference(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean, bias?: tf.Tensor): Promise<Float64Array> {
  const [av, bv, biasV] = [await a.data(), await b.data(), bias ? await bias.data() : null];
  const ra = a.shape.length;
  const rb = b.shape.length;
  const [m, k] = ta ? [a.shape[ra - 1]!, a.shape[ra - 2]!] : [a.shape[ra - 2]!, a.shape[ra - 1]!];
  const n = tb ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  const batchA = m * k ? av.length / (m * k) : 1;
  const batchB = k * n ? bv.length / (k * n) : 1;
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++) {
    const oa = (batchA === 1 ? 0 : p) * m * k;
    const ob = (batchB === 1 ? 0 : p) * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = biasV ? biasV[j]! : 0;
        for (let l = 0; l < k; l++) s += av[oa + (ta ? l * m + i : i * k + l)]! * bv[ob + (tb ? j * k + l : l * n + j)]!;
        out[(p * m + i) * n + j] = s;
      }
    }
  }
  return out;
}

test('the BLAS matMuls (plain, transposed, batched, broadcast, with a bias, one row) equal a float64 product', { skip }, async () => {
  await selectBackend('native');
  assert.equal(tf.getBackend(), 'native');
  const cases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean; bias?: number }> = [
    { a: [33, 17], b: [17, 29], ta: false, tb: false },
    { a: [33, 17], b: [29, 17], ta: false, tb: true },
    { a: [17, 33], b: [17, 29], ta: true, tb: false },
    { a: [17, 33], b: [29, 17], ta: true, tb: true },
    { a: [2, 3, 9, 5], b: [2, 3, 5, 7], ta: false, tb: false },
    { a: [6, 9, 5], b: [5, 7], ta: false, tb: false },
    { a: [9, 5], b: [4, 7, 5], ta: false, tb: true },
    { a: [8, 0], b: [0, 3], ta: false, tb: false },
    { a: [12, 10], b: [6, 10], ta: false, tb: true, bias: 6 },
    // One row (a decoding step) goes through sgemv: every layout, batched, broadcast and with a bias.
    { a: [1, 17], b: [17, 29], ta: false, tb: false },
    { a: [1, 17], b: [29, 17], ta: false, tb: true },
    { a: [17, 1], b: [17, 29], ta: true, tb: false },
    { a: [17, 1], b: [29, 17], ta: true, tb: true },
    { a: [3, 1, 5], b: [3, 5, 7], ta: false, tb: false },
    { a: [3, 1, 5], b: [7, 5], ta: false, tb: true },
    { a: [1, 10], b: [6, 10], ta: false, tb: true, bias: 6 },
  ];
  for (const c of cases) {
    const a = tf.randomNormal(c.a, 0, 1, 'float32', 1);
    const b = tf.randomNormal(c.b, 0, 1, 'float32', 2);
    const bias = c.bias ? tf.randomNormal([c.bias], 0, 1, 'float32', 3) : undefined;
    const got = bias ? tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: c.ta, transposeB: c.tb, bias }) : tf.matMul(a, b, c.ta, c.tb);
    const want = await reference(a, b, c.ta, c.tb, bias);
    const g = await got.data();
    assert.equal(g.length, want.length, `${JSON.stringify(c)}: size`);
    const err = want.reduce((m, w, i) => Math.max(m, Math.abs(w - g[i]!)), 0);
    assert.ok(err < 1e-5, `${JSON.stringify(c)}: max |error| ${err}`);
    tf.dispose([a, b, got, ...(bias ? [bias] : [])]);
  }
});

test('auto prefers native once its product checks out, and without the addon falls to wasm with the way to get it', { skip }, async () => {
  const saved = process.env[NO_NATIVE_ENV];
  try {
    forgetBackendSelection();
    const lines: string[] = [];
    const auto = await selectBackend(undefined, { log: (l) => lines.push(l) });
    // A real GPU or libtensorflow on this machine would rightly win; on a CPU-only machine native must.
    if (['tensorflow-gpu', 'tensorflow', 'webgpu'].includes(auto.name)) return;
    assert.equal(auto.name, 'native');
    assert.match(auto.device, /^CPU \(native BLAS: /);
    forgetBackendSelection();
    process.env[NO_NATIVE_ENV] = '1';
    const fallback = await selectBackend(undefined, { log: (l) => lines.push(l) });
    assert.equal(fallback.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.match(fallback.device, /^CPU \(WebAssembly, 1 thread; .*apt-get install libopenblas-dev.*npm rebuild/);
    assert.deepEqual(lines, [], 'a missing addon is not a warning');
  } finally {
    if (saved === undefined) delete process.env[NO_NATIVE_ENV];
    else process.env[NO_NATIVE_ENV] = saved;
    forgetBackendSelection();
    await selectBackend('wasm');
  }
});

test('score on native equals wasm and the float64 reference', { skip }, async () => {
  const r = await runs.score!;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, NATIVE_LABEL);
  const rows = readFileSync(join(root, 'scores.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { nll: number; tokens: number });
  await selectBackend('wasm');
  const wasm = await scoreSamples(model, data);
  assert.equal(rows.length, data.length);
  rows.forEach((row, i) => {
    const enc = encodeExample(model.tokenizer, data[i]!, { cutoffLen: 512 });
    const logits = referenceLogits(info, enc.inputIds);
    let sum = 0;
    let tokens = 0;
    for (let t = 1; t < enc.inputIds.length; t++) {
      if (enc.labels[t] === -100) continue;
      sum += referenceNll(logits[t - 1]!, enc.labels[t]!);
      tokens++;
    }
    const ref = sum / tokens;
    assert.equal(row.tokens, tokens);
    assert.ok(Math.abs(row.nll - wasm[i]!.nll) <= 1e-5 * wasm[i]!.nll, `sample ${i}: native ${row.nll} vs wasm ${wasm[i]!.nll}`);
    assert.ok(Math.abs(row.nll - ref) <= 1e-5 * ref, `sample ${i}: native ${row.nll} vs float64 ${ref}`);
  });
});

test('greedy sample is identical on native and wasm', { skip }, async () => {
  const r = await runs.sample!;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, NATIVE_LABEL);
  await selectBackend('wasm');
  const wasm = await generate(model, model.tokenizer.encode(formatAlpacaPrompt({ instruction: INSTRUCTION, input: '' })), { maxNewTokens: 4, temperature: 0 });
  assert.ok(wasm.ids.length > 0, 'the greedy answer must have tokens for the comparison to mean anything');
  assert.equal(r.stdout.replace(/\n$/, ''), wasm.text);
});

test('merge on native equals merge on wasm', { skip }, async () => {
  const r = await runs.merge!;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, NATIVE_LABEL);
  assert.equal(JSON.parse(r.stdout).backend, 'native');
  await selectBackend('wasm');
  const onWasm = join(root, 'merged-wasm');
  await mergeAdapter({ model: info.dir, adapter: adapterDir, out: onWasm });
  const file = readdirSync(onWasm).find((f) => f.endsWith('.safetensors'))!;
  const [a, b] = [openSafetensors(join(root, 'merged-native', file)), openSafetensors(join(onWasm, file))];
  try {
    for (const name of b.names()) {
      const x = a.read(name);
      const y = b.read(name);
      let diff = 0;
      let scale = 0;
      y.forEach((v, i) => {
        diff = Math.max(diff, Math.abs(v - x[i]!));
        scale = Math.max(scale, Math.abs(v));
      });
      assert.ok(diff <= 1e-6 * scale, `${name}: native and wasm merges differ by ${diff}`);
    }
  } finally {
    a.close();
    b.close();
  }
});
