import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { openSafetensors } from '../../src/model/safetensors.js';
import { dropoutMaskData, dropoutMaskTensor } from '../../src/train/adapters/dropout-mask.js';
import { runCli } from '../helpers/cli.js';
import { softwareWebGpuEnv, useSoftwareWebGpu } from '../helpers/webgpu.js';
import { SAMPLES, tempDir, tinyModel, writeDataset } from './fixtures.js';

const skip = useSoftwareWebGpu();

/**
 * The tiniest run that still goes through everything a GPU step does: LoRA on q/v, attention over 24 tokens,
 * dropout (masks drawn by kernels on webgpu, in JavaScript on wasm), two micro-batches accumulated per step,
 * clipping and AdamW on the device. tfjs runs one backend per process cleanly, so each backend is its own CLI run.
 */
async function train(backend: 'webgpu' | 'wasm', root: string, model: string, data: string) {
  const out = join(root, `out-${backend}`);
  const args = ['train', '--model', model, '--data', data, '--out', out, '--backend', backend, '--workers', '1', '--max-steps', '3', '--batch-size', '4', '--micro-batch-size', '2'];
  args.push('--cutoff-len', '24', '--train-on-inputs', '--lora-dropout', '0.1', '--learning-rate', '1e-2', '--max-grad-norm', '0.5', '--val-set-size', '0', '--warmup-steps', '0', '--save-every', '0', '--json');
  const r = await runCli(args, { env: softwareWebGpuEnv(), timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const start = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; backend?: string }).find((e) => e.type === 'start');
  assert.equal(start?.backend, backend);
  const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; grad_norm: number });
  const f = openSafetensors(join(out, 'adapter_model.safetensors'));
  const adapter = Object.fromEntries(f.names().map((n) => [n, f.read(n)]));
  f.close();
  return { log, adapter };
}

test('three LoRA steps on WebGPU (SwiftShader) give the losses, grad norms and adapter of wasm', { skip, timeout: 240_000 }, async () => {
  const root = tempDir('webgpu');
  const model = (await tinyModel(root)).dir;
  const data = writeDataset(root, SAMPLES);
  const [gpu, cpu] = await Promise.all([train('webgpu', root, model, data), train('wasm', root, model, data)]);
  assert.deepEqual(gpu.log.map((e) => e.step), [1, 2, 3]);
  gpu.log.forEach((g, i) => {
    const c = cpu.log[i]!;
    assert.ok(Math.abs(g.loss - c.loss) <= 1e-5 * c.loss, `step ${g.step} loss: webgpu ${g.loss}, wasm ${c.loss}`);
    assert.ok(Math.abs(g.grad_norm - c.grad_norm) <= 1e-5 * c.grad_norm, `step ${g.step} grad norm: webgpu ${g.grad_norm}, wasm ${c.grad_norm}`);
  });
  assert.ok(cpu.log[0]!.grad_norm > 0.5, 'clipping was exercised');
  assert.deepEqual(Object.keys(gpu.adapter).sort(), Object.keys(cpu.adapter).sort());
  let maxDiff = 0;
  let moved = 0;
  for (const [name, g] of Object.entries(gpu.adapter)) {
    const c = cpu.adapter[name]!;
    g.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - c[i]!))));
    if (/lora_B/.test(name)) moved = Math.max(moved, ...Array.from(g, Math.abs));
  }
  assert.ok(moved > 1e-3, 'training changed the adapter');
  assert.ok(maxDiff <= 1e-6, `adapters differ by ${maxDiff}`);
});

test('the dropout-mask kernel on WebGPU draws the bits JavaScript draws', { skip }, async () => {
  await selectBackend('webgpu');
  for (const [rows, cols, p, seed] of [[24, 32, 0.1, 5], [333, 577, 0.05, 77]] as const) {
    const t = dropoutMaskTensor([rows, cols], p, seed);
    const gpu = (await t.data()) as Float32Array;
    t.dispose();
    const js = dropoutMaskData(rows * cols, p, seed);
    let differ = 0;
    for (let i = 0; i < js.length; i++) if (gpu[i] !== js[i]) differ++;
    assert.equal(differ, 0, `${differ} of ${js.length} mask values differ (${rows}x${cols}, p=${p})`);
  }
});

test('plan --backend webgpu reads the limits from the adapter (SwiftShader)', { skip, timeout: 60_000 }, async () => {
  const root = tempDir('webgpu-plan');
  const model = (await tinyModel(root)).dir;
  const r = await runCli(['plan', '--model', model, '--backend', 'webgpu', '--json'], { env: softwareWebGpuEnv() });
  assert.equal(r.code, 0, r.stderr);
  const device = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { device: { adapter: string; limits: { maxStorageBufferBindingSize: number }; weightFitsBinding: boolean } }).device;
  assert.match(device.adapter, /swiftshader/i);
  assert.ok(device.limits.maxStorageBufferBindingSize >= 128 * 1024 ** 2, JSON.stringify(device.limits));
  assert.equal(device.weightFitsBinding, true);
});
