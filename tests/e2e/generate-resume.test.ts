import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { jsonLine, runCli, spawnCli, waitForLine } from '../helpers/cli.js';

const runDirIn = () => join(mkdtempSync(join(tmpdir(), 'forge-e2e-')), 'run');


test('SIGKILL mid-run: rerunning reaches exactly the target, no sample lost or duplicated, in-flight requests not counted', async () => {
  const server = await startFakeServer({ latencyMs: 150 });
  const runDir = runDirIn();
  const args = ['generate', '--run', runDir, '--target', '2000', '--concurrency', '6', '--base-url', server.url, '--model', 'm', '--seed', '3', '--json'];
  try {
    const cli = spawnCli(args, { env: { OPENAI_API_KEY: 'sk-e2e-secret' } });
    await waitForLine(cli, jsonLine<{ type: string; kept?: number }>((e) => e.type === 'progress' && (e.kept ?? 0) >= 100));
    cli.child.kill('SIGKILL');
    await cli.exited;

    const before = RunStore.open(runDir);
    const killed = before.summary();
    const keptBefore = before.listItems({ status: ['kept'] }).map((i) => i.id);
    before.close();
    assert.ok(killed.byStatus['kept']! >= 100 && killed.byStatus['kept']! < 2000);
    assert.ok(killed.requests.inFlight > 0, `the kill caught requests in flight: ${JSON.stringify(killed)}`);

    const r = await runCli(args, { env: { OPENAI_API_KEY: 'sk-e2e-secret' } });
    assert.equal(r.code, 0, r.stderr);

    const store = RunStore.open(runDir);
    const s = store.summary();
    const kept = store.listItems({ status: ['kept'] });
    assert.equal(kept.length, 2000);
    assert.equal(new Set(kept.map((k) => k.instruction.toLowerCase())).size, 2000, 'no duplicated sample');
    for (const id of keptBefore) assert.equal(store.getItem(id)?.status, 'kept', `sample ${id} kept before the kill is still kept`);
    assert.equal(s.requests.inFlight, 0);
    assert.equal(s.requests.abandoned, killed.requests.inFlight, 'requests in flight at the kill are abandoned, not counted as done');
    assert.equal(store.listItems().length, s.requests.ok * 20, 'items exist only for completed requests');
    store.close();
    // The key is never written to the run directory.
    assert.ok(!readFileSync(join(runDir, 'run.db')).includes('sk-e2e-secret'));
  } finally {
    await server.close();
  }
});

test('Ctrl-C (SIGINT) stops gracefully and prints the resume command', async () => {
  const server = await startFakeServer({ latencyMs: 300 });
  const runDir = runDirIn();
  try {
    const cli = spawnCli(['generate', '--run', runDir, '--target', '100000', '--base-url', server.url, '--model', 'm']);
    // The first plain progress line (about a second in) shows requests in flight: the signal lands mid-run.
    await waitForLine(cli, (line) => Number(/, (\d+) in flight/.exec(line)?.[1] ?? 0) > 0, { stream: 'stderr' });
    cli.child.kill('SIGINT');
    const { code, stderr } = await cli.exited;
    assert.equal(code, 130);
    assert.match(stderr, /resume with: alpaca-forge generate --run/);
    const store = RunStore.open(runDir);
    assert.equal(store.summary().requests.inFlight, 0);
    store.close();
  } finally {
    await server.close();
  }
});

test('a malformed forge.yaml names file, line and field, and exits non-zero without creating the run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-cfg-'));
  const cfg = join(dir, 'forge.yaml');
  (await import('node:fs')).writeFileSync(cfg, 'generation:\n  concurrency: many\n  targte: 5\n');
  const r = await runCli(['generate', '--run', join(dir, 'run'), '--config', cfg]);
  assert.equal(r.code, 3);
  assert.match(r.stderr, new RegExp(`${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: generation.concurrency: .*number`));
  assert.match(r.stderr, /:3: generation.targte: unknown setting/);
  assert.equal((await import('node:fs')).existsSync(join(dir, 'run')), false);
});

test('a resume that changes --model exits with one line naming the setting; --allow-change model records it', async () => {
  const server = await startFakeServer();
  const runDir = runDirIn();
  const args = (model: string, target: string, ...more: string[]) => ['generate', '--run', runDir, '--target', target, '--base-url', server.url, '--model', model, '--seed', '3', ...more];
  try {
    const first = await runCli(args('model-a', '20'));
    assert.equal(first.code, 0, first.stderr);
    const refused = await runCli(args('model-b', '40'));
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, new RegExp(`error: ${runDir} was started with --model model-a; this resume asks for model-b\\n  → rerun with --model model-a, or pass --allow-change model to record the change`));
    const typo = await runCli(args('model-b', '40', '--allow-change', 'modle'));
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /--allow-change: unknown setting "modle"/);
    const allowed = await runCli(args('model-b', '40', '--allow-change', 'model'));
    assert.equal(allowed.code, 0, allowed.stderr);
    const store = RunStore.open(runDir);
    assert.deepEqual(store.history().map((h) => [h.setting, h.oldValue, h.newValue]), [['model', 'model-a', 'model-b']]);
    assert.equal(store.countItems('kept'), 40);
    store.close();
  } finally {
    await server.close();
  }
});
