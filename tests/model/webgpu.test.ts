/**
 * The WebGPU backend end to end on the CPU, through SwiftShader (tests/helpers/webgpu.ts): score, sample and merge
 * run in child processes (one tfjs backend per process) and must match wasm; auto-selection is checked in this
 * process. SwiftShader is 10–50x slower than wasm, so the model is tiny and nothing trains here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { forgetBackendSelection, selectBackend, webgpuAutoChecks } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { forwardHidden, lmHead } from '../../src/model/llama.js';
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
import { useSoftwareWebGpu, softwareWebGpuEnv } from '../helpers/webgpu.js';
import { writeTinyModel, randomNormal, type TinyModelInfo } from '../helpers/tiny-model.js';
import { referenceLogits, referenceNll } from './reference.js';

const skip = useSoftwareWebGpu();
const SOFTWARE_LABEL = /^backend: webgpu — WebGPU on a software renderer \(slow\)/m;

let root: string;
let info: TinyModelInfo;
let model: LlamaModel;
let adapterDir: string;
let runs: Partial<Record<'noAdapter' | 'score' | 'sample' | 'merge', Promise<RunResult>>>;
const INSTRUCTION = 'Say something nice';
const data = [
  { instruction: 'Give three tips for staying healthy.', input: '', output: 'Eat well, sleep, move.' },
  { instruction: 'Translate', input: 'bonjour', output: 'hello' },
  { instruction: 'Sum the numbers', input: '1 2', output: '3' },
];

const webgpu = (args: string[]) => runCli([...args, '--backend', 'webgpu'], { env: softwareWebGpuEnv(), timeoutMs: 120_000 });

before(async () => {
  await selectBackend('wasm');
  root = mkdtempSync(join(tmpdir(), 'forge-webgpu-'));
  info = await writeTinyModel(join(root, 'model'), { arch: 'llama', layers: 1, seed: 41 });
  model = await loadModel(info.dir);
  writeFileSync(join(root, 'data.jsonl'), data.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const w = initLoraWeights({ r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'], useRslora: false }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 5);
  const rnd = randomNormal(6);
  for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = rnd() * 0.2;
  adapterDir = join(root, 'adapter');
  writeAdapter(adapterDir, w, { baseModel: info.dir });
  // The child processes start together: most of their time is SwiftShader compiling shaders, one core each.
  const missing = join(tmpdir(), 'no-such-vulkan-driver.json');
  runs = {
    noAdapter: runCli(['score', '--model', info.dir, '--data', join(root, 'data.jsonl'), '--out', join(root, 'x.jsonl'), '--backend', 'webgpu'], { env: { VK_ICD_FILENAMES: missing, VK_DRIVER_FILES: missing } }),
    ...(skip
      ? {}
      : {
          score: webgpu(['score', '--model', info.dir, '--data', join(root, 'data.jsonl'), '--out', join(root, 'scores.jsonl')]),
          sample: webgpu(['sample', '--model', info.dir, '--instruction', INSTRUCTION, '--max-new-tokens', '4', '--temperature', '0']),
          merge: webgpu(['merge', '--model', info.dir, '--adapter', adapterDir, '--out', join(root, 'merged-webgpu'), '--json']),
        }),
  };
});

after(async () => {
  await Promise.allSettled(Object.values(runs ?? {}));
  model?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

// Ids from each of the three 100-row vocabulary blocks.
const SPLIT_IDS = [3, 150, 260, 99, 100, 7];

async function logitsOf(m: LlamaModel, ids: number[]): Promise<Float32Array> {
  const t = tf.tidy(() => lmHead(m, tf.reshape(forwardHidden(m, tf.tensor2d([ids], [1, ids.length], 'int32')), [ids.length, m.config.hiddenSize]) as tf.Tensor2D));
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

test('score on webgpu equals wasm and the float64 reference', { skip }, async () => {
  const out = join(root, 'scores.jsonl');
  const r = await runs.score!;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, SOFTWARE_LABEL);
  const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { nll: number; tokens: number });
  const wasm = await scoreSamples(model, data);
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
    assert.equal(row.tokens, wasm[i]!.tokens);
    assert.ok(Math.abs(row.nll - wasm[i]!.nll) <= 1e-5 * wasm[i]!.nll, `sample ${i}: webgpu ${row.nll} vs wasm ${wasm[i]!.nll}`);
    assert.ok(Math.abs(row.nll - ref) <= 1e-5 * ref, `sample ${i}: webgpu ${row.nll} vs float64 ${ref}`);
  });
});

test('greedy sample is identical on webgpu and wasm', { skip }, async () => {
  const r = await runs.sample!;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, SOFTWARE_LABEL);
  const wasm = await generate(model, model.tokenizer.encode(formatAlpacaPrompt({ instruction: INSTRUCTION, input: '' })), { maxNewTokens: 4, temperature: 0 });
  assert.ok(wasm.ids.length > 0, 'the greedy answer must have tokens for the comparison to mean anything');
  assert.equal(r.stdout.replace(/\n$/, ''), wasm.text);
});

test('merge on webgpu equals merge on wasm', { skip }, async () => {
  const onGpu = join(root, 'merged-webgpu');
  const r = await runs.merge!;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, SOFTWARE_LABEL);
  assert.equal(JSON.parse(r.stdout).backend, 'webgpu');
  const onWasm = join(root, 'merged-wasm');
  const res = await mergeAdapter({ model: info.dir, adapter: adapterDir, out: onWasm });
  assert.equal(res.mergedModules, 3);
  const files = readdirSync(onWasm).filter((f) => f.endsWith('.safetensors'));
  assert.deepEqual(readdirSync(onGpu).filter((f) => f.endsWith('.safetensors')), files);
  let changed = 0;
  for (const f of files) {
    const [a, b] = [openSafetensors(join(onGpu, f)), openSafetensors(join(onWasm, f))];
    assert.deepEqual(a.names(), b.names());
    for (const name of b.names()) {
      const [x, y, base] = [a.read(name), b.read(name), info.weights[name]!.data];
      const scale = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      let diff = 0;
      for (let i = 0; i < y.length; i++) diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
      assert.ok(diff <= 1e-6 * scale, `${name}: webgpu and wasm merges differ by ${diff}`);
      if (y.some((v, i) => v !== base[i])) changed++;
    }
    a.close();
    b.close();
  }
  assert.equal(changed, 3, 'exactly the adapted projections change');
});

test('a forced --backend webgpu without an adapter is one clear error with a hint', async () => {
  const r = await runs.noAdapter!;
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /^error: backend "webgpu" cannot start: no WebGPU adapter found[^\n]*\n  → [^\n]*Vulkan[^\n]*--backend wasm/m);
  // Dawn prints its own Vulkan warnings; what must not appear is a JavaScript stack trace.
  assert.doesNotMatch(r.stderr, /^\s+at .*\.[cm]?[jt]s:\d+/m);
});

test('auto: a GPU that fails its matMul self-test falls back to wasm and says why; one that passes is used, with a split head', { skip }, async () => {
  const saved = { ...webgpuAutoChecks };
  const wasmLogits = await logitsOf(model, SPLIT_IDS);
  try {
    forgetBackendSelection();
    webgpuAutoChecks.gpuDevicePresent = () => true;
    // SwiftShader posing as hardware, so that only the probe stands between auto and webgpu.
    webgpuAutoChecks.findAdapter = async () => ({ ...(await saved.findAdapter()), software: false });
    webgpuAutoChecks.probe = async () => {
      throw new Error('got [0, 0, 0, 0, 0, 0], expected [12, 1, 28, 5, 44, 9]');
    };
    const lines: string[] = [];
    const chosen = await selectBackend(undefined, { log: (l) => lines.push(l) });
    assert.equal(chosen.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^backend: not using webgpu \(the adapter failed a matMul self-test: got \[0, 0/);

    // The real probe passes on a device that computes correctly, and auto then takes webgpu.
    forgetBackendSelection();
    webgpuAutoChecks.probe = saved.probe;
    const gpu = await selectBackend(undefined, { log: (l) => lines.push(l) });
    assert.equal(gpu.name, 'webgpu');
    assert.equal(tf.getBackend(), 'webgpu');

    // Vocabulary blocks under a forced binding limit work on the GPU too: same logits as the unsplit model on wasm.
    const split = await loadModel(info.dir, { maxTensorBytes: 100 * info.hidden * 4 });
    assert.equal(split.head.blocks.length, Math.ceil(info.vocabSize / 100));
    const got = await logitsOf(split, SPLIT_IDS);
    split.dispose();
    let diff = 0;
    for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i]! - wasmLogits[i]!));
    assert.ok(diff < 1e-5, `split head on webgpu vs whole on wasm: max |Δlogit| ${diff}`);
  } finally {
    Object.assign(webgpuAutoChecks, saved);
  }
});

test('auto never picks a software renderer', { skip }, async () => {
  const saved = { ...webgpuAutoChecks };
  try {
    forgetBackendSelection();
    webgpuAutoChecks.gpuDevicePresent = () => true;
    const lines: string[] = [];
    const chosen = await selectBackend(undefined, { log: (l) => lines.push(l) });
    assert.equal(chosen.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.match(lines.join('\n'), /not using webgpu \(only a software renderer \(google swiftshader[^)]*\); pass --backend webgpu/);
  } finally {
    Object.assign(webgpuAutoChecks, saved);
  }
});
