import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CommandContext, ParsedValues } from '../../src/cli/command.js';
import { plainContext } from '../helpers/command-context.js';
import { command as sample } from '../../src/cli/commands/sample.js';
import { command as score } from '../../src/cli/commands/score.js';
import { command as merge } from '../../src/cli/commands/merge.js';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel } from '../../src/model/load.js';
import { scoreSamples } from '../../src/model/score-samples.js';
import { writeAdapter } from '../../src/train/adapters/peft-files.js';
import { initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { UsageError } from '../../src/errors.js';
import { writeTinyModel, randomNormal, type TinyModelInfo } from '../helpers/tiny-model.js';

let info: TinyModelInfo;
let dir: string;
const data = [
  { instruction: 'Give three tips for staying healthy.', input: '', output: 'Eat well, sleep, move.' },
  { instruction: 'Translate', input: 'bonjour', output: 'hello' },
  { instruction: 'Sum the numbers', input: '1 2', output: '3' },
];

before(async () => {
  await selectBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'forge-cmd-'));
  info = await writeTinyModel(join(dir, 'model'), { arch: 'llama', seed: 31 });
  writeFileSync(join(dir, 'data.jsonl'), data.map((d) => JSON.stringify(d)).join('\n') + '\n');
});

async function run(cmd: typeof sample, values: ParsedValues, abortAfterLines?: number) {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const ctx: CommandContext = plainContext({
    values,
    positionals: [],
    env: {},
    out: (l) => out.push(l),
    err: (l) => {
      err.push(l);
      if (abortAfterLines !== undefined && err.filter((e) => e.startsWith('answered')).length >= abortAfterLines) controller.abort();
    },
    interactive: false,
    signal: controller.signal,
  });
  const code = await cmd.run(ctx);
  return { code, out, err };
}

test('sample prints the greedy answer and says which backend and device it runs on', async () => {
  const r = await run(sample, { model: info.dir, instruction: 'Say hi', 'max-new-tokens': '5', temperature: '0', backend: 'wasm' });
  assert.equal(r.code, 0);
  assert.equal(r.out.length, 1);
  assert.ok(r.err.some((l) => /^backend: wasm — CPU \(WebAssembly/.test(l)), r.err.join('\n'));
  const again = await run(sample, { model: info.dir, instruction: 'Say hi', 'max-new-tokens': '5', temperature: '0' });
  assert.equal(again.out[0], r.out[0]);
});

test('sample --data answers every item into JSONL and resumes after an interruption; batched, each item draws what it draws alone', async () => {
  const out = join(dir, 'answers.jsonl');
  const first = await run(sample, { model: info.dir, data: join(dir, 'data.jsonl'), out, 'max-new-tokens': '4', temperature: '0.9', seed: '5', 'batch-size': '1' }, 1);
  assert.equal(first.code, 130);
  assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 1);
  const second = await run(sample, { model: info.dir, data: join(dir, 'data.jsonl'), out, 'max-new-tokens': '4', temperature: '0.9', seed: '5', 'batch-size': '1' });
  assert.equal(second.code, 0);
  assert.ok(second.err.some((l) => l.includes('resuming: 1 of 3')));
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.instruction), data.map((d) => d.instruction));
  assert.deepEqual(lines.map((l) => l.reference), data.map((d) => d.output));
  for (const l of lines) assert.ok(l.tokens <= 4 && typeof l.output === 'string');
  // Per-item seeds: a fresh full run, its three items decoded as one batch (the default --batch-size 8), gives the
  // same answers as the resumed one-at-a-time run.
  const fresh = join(dir, 'answers2.jsonl');
  await run(sample, { model: info.dir, data: join(dir, 'data.jsonl'), out: fresh, 'max-new-tokens': '4', temperature: '0.9', seed: '5' });
  assert.deepEqual(readFileSync(fresh, 'utf8'), readFileSync(out, 'utf8'));
});

test('sample needs exactly one of --instruction and --data', async () => {
  await assert.rejects(run(sample, { model: info.dir }), UsageError);
  await assert.rejects(run(sample, { model: info.dir, instruction: 'x', data: 'y', out: 'z' }), UsageError);
  await assert.rejects(run(sample, { model: info.dir, instruction: 'x', backend: 'tpu' }), (e: unknown) => e instanceof UsageError && /--backend: "tpu" is not a backend/.test(e.message));
});

test('score writes per-sample mean NLL, token counts and IFD matching the library', async () => {
  const out = join(dir, 'scores.jsonl');
  const r = await run(score, { model: info.dir, data: join(dir, 'data.jsonl'), out, ifd: true, 'batch-size': '2' });
  assert.equal(r.code, 0);
  assert.ok(r.err.some((l) => /^scored 3\/3/.test(l)));
  const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const model = await loadModel(info.dir);
  const expected = await scoreSamples(model, data, { batchSize: 1, ifd: true });
  model.dispose();
  rows.forEach((row, i) => {
    assert.equal(row.index, i);
    assert.equal(row.tokens, expected[i]!.tokens);
    assert.ok(Math.abs(row.nll - expected[i]!.nll) < 1e-5 * expected[i]!.nll);
    assert.ok(Math.abs(row.ifd - expected[i]!.ifd!) < 1e-5 * expected[i]!.ifd!);
  });
});

test('score --adapter applies a PEFT LoRA adapter (scale alpha/r on x·A·B)', async () => {
  const r = 2;
  const alpha = 4;
  const rnd = randomNormal(77);
  const model = await loadModel(info.dir);
  const entries = model.layers.flatMap((layer, i) =>
    (['q_proj', 'v_proj'] as const).map((m) => {
      const p = layer.proj[m];
      return {
        layer: i,
        module: m,
        inFeatures: p.inFeatures,
        outFeatures: p.outFeatures,
        a: Float32Array.from({ length: p.inFeatures * r }, () => rnd() * 0.3),
        b: Float32Array.from({ length: r * p.outFeatures }, () => rnd() * 0.3),
      };
    }),
  );
  const adapterDir = join(dir, 'adapter');
  writeAdapter(adapterDir, { spec: { r, alpha, dropout: 0, targetModules: ['q_proj', 'v_proj'], useRslora: false }, entries }, { baseModel: info.dir });
  const hook = (layer: number, module: string, x: tf.Tensor2D) => {
    const e = entries.find((en) => en.layer === layer && en.module === module);
    if (!e) return null;
    return tf.mul(tf.matMul(tf.matMul(x, tf.tensor2d(e.a, [e.inFeatures, r])), tf.tensor2d(e.b, [r, e.outFeatures])), alpha / r) as tf.Tensor2D;
  };
  const withHook = await scoreSamples(model, data, { lora: hook });
  const base = await scoreSamples(model, data);
  model.dispose();
  const out = join(dir, 'scores-adapter.jsonl');
  const res = await run(score, { model: info.dir, adapter: adapterDir, data: join(dir, 'data.jsonl'), out });
  assert.equal(res.code, 0);
  const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  rows.forEach((row, i) => {
    assert.ok(Math.abs(row.nll - withHook[i]!.nll) < 1e-4 * withHook[i]!.nll, `adapter score ${row.nll} vs ${withHook[i]!.nll}`);
    assert.ok(Math.abs(row.nll - base[i]!.nll) > 1e-3, 'the adapter changes the score');
  });
});

test('an output file written for other data is refused instead of being appended to', async () => {
  const out = join(dir, 'other.jsonl');
  writeFileSync(out, `${JSON.stringify({ instruction: 'something else', nll: 1 })}\n`);
  await assert.rejects(run(score, { model: info.dir, data: join(dir, 'data.jsonl'), out }), /other\.jsonl:1: this output file belongs to other data/);
});

test('merge takes --backend and says which backend and device it runs on; an unknown backend is a usage error', async () => {
  const m = await loadModel(info.dir);
  const w = initLoraWeights({ r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'], useRslora: false }, { layers: m.config.numLayers, features: (_l, mod) => projectionFeatures(m.config, mod) }, 1);
  m.dispose();
  const adapterDir = join(dir, 'merge-adapter');
  writeAdapter(adapterDir, w, { baseModel: info.dir });
  const r = await run(merge, { model: info.dir, adapter: adapterDir, out: join(dir, 'merged'), backend: 'wasm', json: true });
  assert.equal(r.code, 0);
  assert.ok(r.err.some((l) => /^backend: wasm — CPU \(WebAssembly/.test(l)), r.err.join('\n'));
  assert.equal(JSON.parse(r.out[0]!).backend, 'wasm');
  await assert.rejects(run(merge, { model: info.dir, adapter: adapterDir, out: join(dir, 'merged-2'), backend: 'cuda' }), UsageError);
});
