/**
 * Sampling on WebGPU keeps its memory bounded, and errors outside the device step's scopes fail loudly
 * (SwiftShader). Before: the KV cache grew by one token per step, so no freed buffer ever fitted again (the pool
 * held 1,810 unused buffers after 160 tokens); and an over-limit buffer outside a scope printed Dawn's messages to
 * stdout while the read returned stale values.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { bufferPoolStats, poolBudget, type PoolStats } from '../../src/model/backend-pool.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { generate } from '../../src/model/generate.js';
import { softwareWebGpuEnv, useSoftwareWebGpu } from '../helpers/webgpu.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { tempDir } from '../train/fixtures.js';

const skip = useSoftwareWebGpu();
let model: LlamaModel;
const savedBudget = poolBudget.bytes;

before(async () => {
  if (skip) return;
  await selectBackend('webgpu');
  const info = await writeTinyModel(join(tempDir('sample-pool'), 'm'), { arch: 'llama', layers: 1, hidden: 16, heads: 2, kvHeads: 1, intermediate: 32, seed: 4 });
  model = await loadModel(info.dir);
});

after(() => {
  poolBudget.bytes = savedBudget;
  model?.dispose();
});

test('sampling on webgpu holds a few KV-cache sizes in the buffer pool, not one per token', { skip, timeout: 600_000 }, async () => {
  poolBudget.bytes = 0;
  const at: PoolStats[] = [];
  // 50 prompt tokens + 40 new ones: the cache's capacity grows once, from 64 to 128 positions, at token 15.
  const prompt = Array.from({ length: 50 }, (_, i) => 5 + ((i * 11) % 200));
  const r = await generate(model, prompt, { maxNewTokens: 40, temperature: 1, seed: 3, stopIds: [], onToken: () => void at.push(bufferPoolStats()!) });
  assert.equal(r.ids.length, 40);
  const report = [2, 8, 12, 18, 30, 39].map((i) => `${i + 1}: ${at[i]!.sizes} sizes, ${(at[i]!.allocatedBytes / 1024).toFixed(0)} KiB`).join('; ');
  const within = (a: PoolStats, b: PoolStats, what: string) => {
    assert.ok(b.sizes <= a.sizes + 2, `${what}: buffer sizes went from ${a.sizes} to ${b.sizes} (${report})`);
    assert.ok(b.allocatedBytes <= 1.1 * a.allocatedBytes, `${what}: allocated went from ${a.allocatedBytes} to ${b.allocatedBytes} bytes (${report})`);
  };
  // Inside one chunk every token reuses the same buffers; after the growth, those of the old size are given back.
  within(at[2]!, at[12]!, 'tokens 3 to 13 (capacity 64)');
  within(at[18]!, at[39]!, 'tokens 19 to 40 (capacity 128)');
  assert.ok(at[39]!.sizes <= at[2]!.sizes + 8, `the pool holds the sizes of one capacity, not two: ${report}`);
});

test('an error outside the scopes fails the next read with a typed error, and Dawn prints nothing to stdout', { skip, timeout: 120_000 }, () => {
  const script = resolve('tests/helpers/webgpu-stale-read.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: resolve('.'), env: { ...process.env, ...softwareWebGpuEnv() }, encoding: 'utf8', timeout: 110_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `stdout must hold only the JSON line, got:\n${r.stdout.slice(0, 2000)}`);
  const out = JSON.parse(lines[0]!) as { typed?: boolean; message?: string; value?: number; after: number };
  assert.equal(out.value, undefined, `the read returned ${out.value} instead of failing`);
  assert.equal(out.typed, true);
  assert.match(out.message!, /GPU rejected work before a read from the GPU, so its values cannot be trusted: Buffer size \(1200000000\) exceeds/);
  assert.equal(out.after, 8, 'later work reads true values');
});
