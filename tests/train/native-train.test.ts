import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../src/model/safetensors.js';
import { runCli } from '../helpers/cli.js';
import { skipWithoutNativeBlas } from '../helpers/native-blas.js';
import { SAMPLES, tempDir, tinyModel, writeDataset } from './fixtures.js';

const skip = skipWithoutNativeBlas();

/** One CLI training run (tfjs runs one backend per process cleanly): 3 steps, two micro-batches a step, dropout, clipping. */
async function train(backend: 'native' | 'wasm', workers: number, root: string, model: string, data: string) {
  const out = join(root, `out-${backend}-${workers}`);
  const args = ['train', '--model', model, '--data', data, '--out', out, '--backend', backend, '--workers', String(workers), '--max-steps', '3', '--batch-size', '4', '--micro-batch-size', '2'];
  args.push('--cutoff-len', '24', '--train-on-inputs', '--lora-dropout', '0.1', '--learning-rate', '1e-2', '--max-grad-norm', '0.5', '--val-set-size', '0', '--warmup-steps', '0', '--save-every', '0', '--json');
  const r = await runCli(args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const start = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; backend?: string }).find((e) => e.type === 'start');
  assert.equal(start?.backend, backend);
  const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; grad_norm: number });
  const f = openSafetensors(join(out, 'adapter_model.safetensors'));
  const adapter = Object.fromEntries(f.names().map((n) => [n, f.read(n)]));
  f.close();
  return { log, adapter };
}

test('three LoRA steps on native (one thread, and two workers) give the losses, grad norms and adapter of wasm', { skip, timeout: 240_000 }, async () => {
  const root = tempDir('native');
  const model = (await tinyModel(root)).dir;
  const data = writeDataset(root, SAMPLES);
  const [one, two, cpu] = await Promise.all([train('native', 1, root, model, data), train('native', 2, root, model, data), train('wasm', 1, root, model, data)]);
  for (const [label, run] of [['native', one], ['native ×2 workers', two]] as const) {
    assert.deepEqual(run.log.map((e) => e.step), [1, 2, 3]);
    run.log.forEach((g, i) => {
      const c = cpu.log[i]!;
      assert.ok(Math.abs(g.loss - c.loss) <= 1e-5 * c.loss, `${label} step ${g.step} loss: ${g.loss}, wasm ${c.loss}`);
      assert.ok(Math.abs(g.grad_norm - c.grad_norm) <= 1e-5 * c.grad_norm, `${label} step ${g.step} grad norm: ${g.grad_norm}, wasm ${c.grad_norm}`);
    });
    assert.deepEqual(Object.keys(run.adapter).sort(), Object.keys(cpu.adapter).sort());
    let maxDiff = 0;
    for (const [name, g] of Object.entries(run.adapter)) g.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - cpu.adapter[name]![i]!))));
    assert.ok(maxDiff <= 1e-6, `${label}: adapters differ from wasm's by ${maxDiff}`);
  }
  assert.ok(cpu.log[0]!.grad_norm > 0.5, 'clipping was exercised');
  let moved = 0;
  for (const [name, g] of Object.entries(one.adapter)) if (/lora_B/.test(name)) moved = Math.max(moved, ...Array.from(g, Math.abs));
  assert.ok(moved > 1e-3, 'training changed the adapter');
});
