import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, CommandContext, ParsedValues } from '../../src/cli/command.js';
import { plainContext } from '../helpers/command-context.js';
import { command as train, TRAIN_FLAGS, flagName, trainConfigFromFlags } from '../../src/cli/commands/train.js';
import { command as plan } from '../../src/cli/commands/plan.js';
import { command as merge } from '../../src/cli/commands/merge.js';
import { selectBackend } from '../../src/model/backend.js';
import { trainConfigSchema } from '../../src/config/train.js';
import { jsonLine, runCli, spawnCli, waitForLine } from '../helpers/cli.js';
import { SAMPLES, tempDir, tinyModel, writeDataset } from './fixtures.js';

let root: string;
let modelDir: string;
let data: string;
before(async () => {
  await selectBackend('wasm');
  root = tempDir('cli');
  modelDir = (await tinyModel(root)).dir;
  data = writeDataset(root, SAMPLES);
});

async function run(cmd: Command, values: ParsedValues, onErr?: (line: string, abort: () => void) => void) {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const ctx: CommandContext = plainContext({
    values: { config: join(root, 'forge.yaml'), ...values },
    positionals: [],
    env: {},
    out: (l) => out.push(l),
    err: (l) => {
      err.push(l);
      onErr?.(l, () => controller.abort());
    },
    interactive: false,
    signal: controller.signal,
  });
  const code = await cmd.run(ctx);
  return { code, out, err };
}

test('every train setting has a flag, and flags override forge.yaml which overrides the defaults', () => {
  assert.deepEqual(Object.keys(TRAIN_FLAGS).sort(), Object.keys(trainConfigSchema.shape).sort());
  for (const key of Object.keys(TRAIN_FLAGS)) assert.ok(key in train.options || flagName(key) in train.options, key);
  const c = trainConfigFromFlags({ 'lora-r': '16', 'target-modules': 'q_proj,k_proj,gate_proj', 'use-rslora': true, workers: '2' }, { loraR: 4, loraAlpha: 32, epochs: 1 });
  assert.equal(c.loraR, 16);
  assert.equal(c.loraAlpha, 32);
  assert.equal(c.epochs, 1);
  assert.equal(c.learningRate, 3e-4);
  assert.deepEqual(c.targetModules, ['q_proj', 'k_proj', 'gate_proj']);
  assert.equal(c.useRslora, true);
  assert.equal(c.workers, 2);
  assert.equal(trainConfigFromFlags({}).workers, 'auto');
  assert.throws(() => trainConfigFromFlags({ 'target-modules': 'q_proj,c_attn' }), /--target-modules: "c_attn" is not a projection of LLaMA-family models/);
  assert.throws(() => trainConfigFromFlags({ 'lr-schedule': 'step' }), /train\.lrSchedule \(--lr-schedule\)/);
  assert.throws(() => trainConfigFromFlags({ 'lora-r': 'eight' }), /--lora-r expects an integer/);
});

test('train on the command line: plain progress lines, a PEFT adapter, and JSON events with --json', async () => {
  writeFileSync(join(root, 'forge.yaml'), 'train:\n  batchSize: 4\n  microBatchSize: 2\n  warmupSteps: 0\n  valSetSize: 1\n  evalEvery: 0\n  saveEvery: 0\n  workers: 1\n');
  const out = join(root, 'out-plain');
  const r = await run(train, { model: modelDir, data, out, epochs: '1', 'learning-rate': '1e-3', backend: 'wasm' });
  assert.equal(r.code, 0, r.err.join('\n'));
  assert.ok(r.err.some((l) => /^backend: wasm — CPU/.test(l)), r.err.join('\n'));
  assert.ok(r.err.some((l) => /^step 1\/2 +epoch 0\.50 +loss \d+\.\d{4} +lr 1\.00e-3/.test(l)), r.err.join('\n'));
  assert.ok(r.err.some((l) => /^eval at step 2: loss \d/.test(l)), r.err.join('\n'));
  assert.match(r.out.at(-1)!, /^done: 2 steps in .*; final train loss \d+\.\d+, eval loss \d+\.\d+; adapter in /);
  assert.ok(existsSync(join(out, 'adapter_model.safetensors')));

  const j = await run(train, { model: modelDir, data, out: join(root, 'out-json'), epochs: '1', json: true });
  const events = j.out.map((l) => JSON.parse(l));
  assert.deepEqual([...new Set(events.map((e) => e.type))], ['phase', 'start', 'step', 'eval', 'checkpoint', 'done']);
  const step = events.find((e) => e.type === 'step');
  assert.deepEqual(Object.keys(step).sort(), ['epoch', 'etaSec', 'gradNorm', 'loss', 'lr', 'step', 'tokensPerSec', 'total', 'type']);
});

test('Ctrl-C saves a checkpoint, exits 130 and prints how to resume', async () => {
  const out = join(root, 'out-stop');
  const r = await run(train, { model: modelDir, data, out, epochs: '3' }, (line, abort) => line.startsWith('step 2/') && abort());
  assert.equal(r.code, 130);
  const stopped = readdirSync(join(out, 'checkpoints')).map((d) => Number(/^step-(\d+)$/.exec(d)?.[1]));
  assert.equal(stopped.length, 1);
  assert.ok(stopped[0]! >= 2 && stopped[0]! < 6, `stopped at ${stopped[0]}`);
  assert.ok(r.err.some((l) => /^resume with: alpaca-forge .* --resume$/.test(l)), r.err.join('\n'));
  const again = await run(train, { model: modelDir, data, out, epochs: '3', resume: true });
  assert.equal(again.code, 0);
  assert.ok(again.err.some((l) => l.includes(`resuming after step ${stopped[0]}`)), again.err.join('\n'));
});

test('plan prints parameters and memory before training; merge writes a loadable checkpoint', async () => {
  const p = await run(plan, { model: modelDir, 'lora-r': '4', 'target-modules': 'q_proj,v_proj,down_proj' });
  assert.equal(p.code, 0);
  const text = p.out.join('\n');
  assert.match(text, /parameters: [\d.]+K total, 1\.[0-9]+K trainable/);
  assert.match(text, /AdamW state \(m, v\)/);
  assert.match(text, /fp32: 4 B weights \+ 4 B grads \+ 8 B Adam = 16 B\/param/);
  const pj = await run(plan, { model: modelDir, json: true });
  const planJson = JSON.parse(pj.out[0]!);
  assert.ok(planJson.trainableParams > 0 && planJson.lora.total > planJson.lora.weights);

  const m = await run(merge, { model: modelDir, adapter: join(root, 'out-plain'), out: join(root, 'merged') });
  assert.equal(m.code, 0);
  assert.match(m.out[0]!, /^merged 4 projections into 1 file\(s\)/);
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'merged', 'config.json'), 'utf8')), JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')));
  await assert.rejects(run(merge, { model: modelDir, out: join(root, 'merged2') }), /--adapter is required/);
});

test('plan --backend webgpu with given limits plans the device without one: f32 memory, largest tensor, passes', async () => {
  const config = join(root, 'plan.yaml');
  writeFileSync(config, 'train: {}\n');
  const p = await run(plan, { config, model: modelDir, backend: 'webgpu', 'max-binding-size': '1MiB', 'gpu-memory': '8GiB', 'micro-batch-size': '8', 'cutoff-len': '64' });
  assert.equal(p.code, 0);
  const text = p.out.join('\n');
  assert.match(text, /on the device \(limits given on the command line; float32/);
  assert.match(text, /maxStorageBufferBindingSize 1\.0 MiB, maxBufferSize 1\.0 MiB/);
  assert.match(text, /largest weight: embeddings \[\d+, 32\] [\d.]+ KiB vs binding limit 1\.0 MiB: ok/);
  assert.match(text, /fits in 8\.0 GiB of device memory/);
  const pj = JSON.parse((await run(plan, { config, model: modelDir, backend: 'webgpu', 'max-binding-size': '1MiB', json: true })).out[0]!);
  assert.equal(pj.device.limits.maxStorageBufferBindingSize, 1024 ** 2);
  assert.ok(pj.device.largestMicroBatch >= 1);
  await assert.rejects(run(plan, { config, model: modelDir, backend: 'webgpu', 'max-binding-size': 'lots' }), /--max-binding-size: "lots" is not a size/);
});

test('a training process killed with SIGKILL resumes to the adapter of an uninterrupted run', async () => {
  const args = (out: string) => ['train', '--json', '--model', modelDir, '--data', data, '--out', out, '--config', join(root, 'none.yaml'),
    '--batch-size', '2', '--micro-batch-size', '1', '--epochs', '4', '--val-set-size', '0', '--warmup-steps', '0', '--save-every', '1', '--workers', '1', '--backend', 'wasm', '--learning-rate', '1e-2'];
  writeFileSync(join(root, 'none.yaml'), 'train: {}\n');
  const full = join(root, 'sigkill-full');
  const done = await runCli(args(full), { timeoutMs: 300_000 });
  assert.equal(done.code, 0, done.stderr);
  const killed = join(root, 'sigkill');
  const cli = spawnCli(args(killed));
  // The checkpoint event comes after the checkpoint is on disk: kill right after it.
  await waitForLine(cli, jsonLine<{ type: string; step?: number }>((e) => e.type === 'checkpoint' && e.step === 4), { timeoutMs: 300_000 });
  cli.child.kill('SIGKILL');
  await cli.exited;
  assert.ok(!existsSync(join(killed, 'adapter_model.safetensors')), 'killed before the end');
  const resumed = await runCli([...args(killed), '--resume'], { timeoutMs: 300_000 });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(readFileSync(join(killed, 'adapter_model.safetensors')).equals(readFileSync(join(full, 'adapter_model.safetensors'))));
  const steps = (dir: string) => readFileSync(join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps(killed), steps(full));
});
