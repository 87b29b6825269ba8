import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { ProvenanceStore } from '../../src/store/provenance-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { jsonLine, runCli, spawnCli, waitForLine } from '../helpers/cli.js';

const dirFor = () => mkdtempSync(join(tmpdir(), 'forge-e2e-method-'));

/** Kills the CLI once its progress shows `kept` kept items (the run's inputs count as kept), and returns the run as the kill left it. */
async function killAt(args: string[], kept: number, runDir: string) {
  const cli = spawnCli(args, { env: { OPENAI_API_KEY: 'sk-e2e' } });
  await waitForLine(cli, jsonLine<{ type: string; kept?: number }>((e) => e.type === 'progress' && (e.kept ?? 0) >= kept));
  cli.child.kill('SIGKILL');
  await cli.exited;
  const store = RunStore.open(runDir);
  const summary = store.summary();
  const keptIds = store.listItems({ status: ['kept'] }).map((i) => i.id);
  store.close();
  return { summary, keptIds };
}

test('SIGKILL mid-round of a 2-round evol run: the re-run reaches exactly the target, no parent evolved twice, no parent link lost', async () => {
  const dir = dirFor();
  const from = join(dir, 'input.jsonl');
  const sources = 30;
  writeFileSync(from, Array.from({ length: sources }, (_, i) => JSON.stringify({ instruction: `Describe item number ${i} of the catalogue in plain words.`, input: '', output: 'A description.' })).join('\n') + '\n');
  // Round 1 can keep 30, round 2 up to 30 more: the target lies inside round 2.
  const target = sources + 30 + 12;
  const server = await startFakeServer({ latencyMs: 120, answers: 'text' });
  const runDir = join(dir, 'run');
  const args = ['generate', '--run', runDir, '--method', 'evol', '--from', from, '--rounds', '2', '--operators', 'depth', '--target', String(target), '--concurrency', '3', '--base-url', server.url, '--model', 'm', '--seed', '5', '--json'];
  try {
    const killed = await killAt(args, sources + 4, runDir);
    const evolvedBefore = killed.summary.byStatus['kept']! - sources;
    assert.ok(evolvedBefore >= 4 && evolvedBefore < sources, `killed mid-round 1: ${evolvedBefore} evolutions kept`);
    assert.ok(killed.summary.requests.inFlight > 0, 'the kill caught requests in flight');

    const r = await runCli(args, { env: { OPENAI_API_KEY: 'sk-e2e' } });
    assert.equal(r.code, 0, r.stderr);

    const store = RunStore.open(runDir);
    const prov = new ProvenanceStore(store);
    const items = store.listItems();
    const kept = items.filter((i) => i.status === 'kept');
    assert.equal(kept.length, target, 'exactly the target');
    assert.equal(new Set(kept.map((k) => k.instruction.toLowerCase())).size, target, 'no duplicated sample');
    for (const id of killed.keptIds) assert.equal(store.getItem(id)?.status, 'kept', `item ${id} kept before the kill is still kept`);
    const byId = new Map(items.map((i) => [i.id, i]));
    const seen = new Set<string>();
    let round2 = 0;
    for (const it of items) {
      const p = prov.get(it.id);
      assert.ok(p, `item ${it.id} has provenance`);
      if (p.method === 'source') continue;
      assert.equal(p.method, 'evol');
      const key = `${p.parentId}:${p.round}`;
      assert.ok(!seen.has(key), `parent ${p.parentId} evolved twice in round ${p.round}`);
      seen.add(key);
      const parent = byId.get(p.parentId!);
      assert.ok(parent && parent.status === 'kept', `item ${it.id}'s parent ${p.parentId} exists and is kept`);
      const pp = prov.get(parent.id)!;
      assert.equal(pp.round, p.round! - 1, 'a round evolves what the round before kept');
      assert.equal(p.rootId, pp.method === 'source' ? parent.id : pp.rootId, 'the root is carried down from the parent');
      if (p.round === 2) round2++;
    }
    assert.ok(round2 > 0, 'the re-run went on into round 2');
    const s = store.summary();
    assert.equal(s.requests.inFlight, 0);
    assert.equal(s.requests.abandoned, killed.summary.requests.inFlight, 'requests in flight at the kill are abandoned');
    store.close();
  } finally {
    await server.close();
  }
});

test('SIGKILL mid-run of a Magpie run: the re-run reaches exactly the target with no instruction twice', async () => {
  const server = await startFakeServer({ latencyMs: 120, answers: 'text' });
  const runDir = join(dirFor(), 'run');
  const target = 40;
  const args = ['generate', '--run', runDir, '--method', 'magpie', '--target', String(target), '--concurrency', '3', '--base-url', server.url, '--model', 'm', '--seed', '5', '--json'];
  try {
    const killed = await killAt(args, 4, runDir);
    assert.ok(killed.summary.byStatus['kept']! < target);
    const r = await runCli(args, { env: { OPENAI_API_KEY: 'sk-e2e' } });
    assert.equal(r.code, 0, r.stderr);
    const store = RunStore.open(runDir);
    const kept = store.listItems({ status: ['kept'] });
    assert.equal(kept.length, target, 'exactly the target');
    assert.equal(new Set(kept.map((k) => k.instruction.toLowerCase())).size, target, 'no instruction kept twice');
    for (const id of killed.keptIds) assert.equal(store.getItem(id)?.status, 'kept');
    assert.equal(store.summary().requests.inFlight, 0);
    store.close();
  } finally {
    await server.close();
  }
});
