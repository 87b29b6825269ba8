import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-openai-server.js';
import { runCli, spawnCli, waitForLine } from '../helpers/cli.js';

function setup(url: string): { runDir: string; args: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'forge-batch-e2e-'));
  writeFileSync(join(dir, 'forge.yaml'), 'generation:\n  batch:\n    maxRequests: 4\n    pollSeconds: 0.05\n    maxPollSeconds: 0.1\n');
  const runDir = join(dir, 'run');
  return { runDir, args: ['generate', '--config', join(dir, 'forge.yaml'), '--run', runDir, '--mode', 'batch', '--target', '150', '--base-url', url, '--model', 'm', '--seed', '3', '--json'] };
}

/** After the resumed run: every round's batch submitted once, every line run and ingested once. */
function assertNothingTwice(server: FakeServer, runDir: string): void {
  const store = RunStore.open(runDir);
  const rounds = store.batches();
  const s = store.summary();
  assert.equal(store.countItems('kept'), 150);
  assert.equal(rounds.length, server.batchApi.batches.size, 'one batch per round');
  assert.equal(new Set(rounds.map((b) => b.batchId)).size, rounds.length);
  assert.equal(new Set(server.batchApi.linesRun).size, server.batchApi.linesRun.length, 'no line run twice');
  assert.equal(s.requests.ok, server.batchApi.linesRun.length);
  assert.equal(store.listItems().length, s.requests.ok * 20, 'each answer ingested once');
  assert.equal(s.requests.queued, 0);
  store.close();
  assert.ok(!readFileSync(join(runDir, 'run.db')).includes('sk-batch-secret'));
}

test('batch mode killed while polling: the rerun polls the same batch and ingests each line once', async () => {
  const server = await startFakeServer({ batch: { inProgressMs: 800 } });
  const { runDir, args } = setup(server.url);
  try {
    const cli = spawnCli(args, { env: { OPENAI_API_KEY: 'sk-batch-secret' } });
    await waitForLine(cli, (line) => /"type":"batch".*"status":"in_progress"/.test(line));
    cli.child.kill('SIGKILL');
    await cli.exited;
    assert.equal(server.batchApi.batches.size, 1);

    const r = await runCli(args, { env: { OPENAI_API_KEY: 'sk-batch-secret' } });
    assert.equal(r.code, 0, r.stderr);
    assertNothingTwice(server, runDir);
  } finally {
    await server.close();
  }
});

test('batch mode killed before the created batch\'s id was recorded: the rerun finds it instead of submitting again', async () => {
  const server = await startFakeServer({ batch: { createDelayMs: 3000 } });
  const { runDir, args } = setup(server.url);
  try {
    const cli = spawnCli(args, { env: { OPENAI_API_KEY: 'sk-batch-secret' } });
    // The server has the batch; the client is still waiting for batches.create's answer (held 3 s).
    while (server.batchApi.batches.size === 0) await new Promise((r) => setTimeout(r, 10));
    cli.child.kill('SIGKILL');
    await cli.exited;
    const store = RunStore.open(runDir);
    assert.equal(store.batches()[0]!.batchId, null, 'killed before the id was recorded');
    store.close();

    const r = await runCli(args, { env: { OPENAI_API_KEY: 'sk-batch-secret' } });
    assert.equal(r.code, 0, r.stderr);
    assertNothingTwice(server, runDir);
  } finally {
    await server.close();
  }
});

test('generate --emit-batch writes the file and says how to ingest it; batch flags go one at a time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-emit-cli-'));
  const runDir = join(dir, 'run');
  const file = join(dir, 'in.jsonl');
  const r = await runCli(['generate', '--run', runDir, '--target', '100', '--model', 'm', '--emit-batch', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`wrote \\d+ requests to ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}; run them .*--ingest-batch OUTPUT\\.jsonl`));
  assert.ok(readFileSync(file, 'utf8').trim().split('\n').length > 0);
  const both = await runCli(['generate', '--run', runDir, '--emit-batch', file, '--ingest-batch', file]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--emit-batch, --ingest-batch and --cancel-batches go one at a time/);
});
