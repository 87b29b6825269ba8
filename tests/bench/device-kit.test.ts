import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

// The device kit (bench/device/run.sh) runs on a GPU machine only now and then; this runs the same script here, on
// SwiftShader with tiny shapes, on every CI run, so that it cannot rot between loans.
const root = join(import.meta.dirname, '..', '..');

function skipReason(): string | false {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'the kit packs linux-x64 binaries';
  if (!existsSync(join(root, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node'))) return 'the optional webgpu package is not installed';
  return false;
}
const skip = skipReason();
if (skip) console.error(`!!! SKIPPING the device kit test: ${skip} !!!`);

interface Figures {
  kit: { mode: string; small: boolean };
  stages: Array<{ stage: string; rc: number }>;
  probe: { adapter: { name: string }; matmul: Array<{ gflops: number }>; matmulPeakGflops: number } | null;
  train: Array<{ run: string; baseWeights: string; shapes: Array<{ shape: string; tokensPerSec: number; loss: number; gflops: number }> }>;
  anchor: { skipped?: string; runs?: unknown[] } | null;
  peft: { ours: { cases: number; adapters: string[] } | null; check: { skipped?: string; checks?: Array<{ ok: boolean }> } | null };
  goals: { matmulShare: Array<{ share: number }> };
  summary: string[];
}

test('bench/device/run.sh --local --small writes every figure the device run writes', { skip, timeout: 300_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'kit-out-'));
  try {
    const r = spawnSync('bash', [join(root, 'bench', 'device', 'run.sh'), '--local', '--small'], { cwd: root, env: { ...process.env, OUT: out }, encoding: 'utf8', timeout: 280_000 });
    const log = existsSync(join(out, 'log')) ? readFileSync(join(out, 'log'), 'utf8') : '';
    assert.equal(r.status, 0, `run.sh exited ${r.status}:\n${log.slice(-3000)}${r.stderr}`);
    const f = JSON.parse(readFileSync(join(out, 'figures.json'), 'utf8')) as Figures;
    assert.equal(f.kit.mode, 'local');
    assert.equal(f.kit.small, true);
    // Every stage ran and succeeded (a Python stage without torch exits 0 after its loud skip line).
    assert.deepEqual(f.stages.map((s) => s.stage), ['node', 'peft-check', 'anchor']);
    for (const s of f.stages) assert.equal(s.rc, 0, `stage ${s.stage} exited ${s.rc}:\n${log.slice(-3000)}`);
    assert.ok(f.probe && f.probe.adapter.name.length > 0);
    assert.ok(f.probe.matmul.length >= 2 && f.probe.matmul.every((m) => m.gflops > 0));
    assert.equal(f.probe.matmulPeakGflops, Math.max(...f.probe.matmul.map((m) => m.gflops)));
    assert.deepEqual(f.train.map((t) => [t.run, t.baseWeights]), [['tiny-llama/f32', 'f32'], ['tiny-llama/int8', 'int8']]);
    for (const t of f.train) {
      assert.equal(t.shapes.length, 1);
      assert.ok(t.shapes[0]!.tokensPerSec > 0 && Number.isFinite(t.shapes[0]!.loss), `${t.run}: ${JSON.stringify(t.shapes[0])}`);
    }
    assert.equal(f.goals.matmulShare.length, 2);
    assert.ok(f.peft.ours);
    assert.equal(f.peft.ours.cases, 5);
    assert.deepEqual(f.peft.ours.adapters, ['lora', 'prompt-tuning', 'p-tuning', 'prefix-tuning', 'prefix-tuning+projection']);
    // Without torch/transformers/peft the Python parts say so in a loud line and in the figures; with them, they ran.
    for (const [part, fig, what] of [['anchor', f.anchor, 'the PyTorch + PEFT anchor'], ['peft', f.peft.check, 'the real-PEFT check']] as const) {
      assert.ok(fig, `${part}: no figures`);
      if (fig.skipped) assert.match(log, new RegExp(`!!! SKIPPING ${what.replace(/[+]/g, '\\+')}: `));
    }
    if (f.peft.check?.checks) assert.ok(f.peft.check.checks.every((c) => c.ok), JSON.stringify(f.peft.check.checks));
    assert.ok(f.summary.some((l) => l.startsWith('tiny-llama/int8 1x16: ')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
