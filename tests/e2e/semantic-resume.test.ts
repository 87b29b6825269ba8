import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { makeRun } from '../ui/run-fixture.js';

// 200 tasks and a paraphrase of each (synonyms the fake embeddings fold together), interleaved.
const items = Array.from({ length: 200 }, (_, i) => [
  { instruction: `Write a short story about zor${i} and qua${i} for children.`, output: `Story ${i}.` },
  { instruction: `Compose a brief tale about qua${i} and zor${i} for kids.`, output: `Tale ${i}.` },
]).flat();

function cachedVectors(dir: string): number {
  const db = new Database(join(dir, 'run.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM embeddings').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test('curate --dedup semantic: SIGKILL mid-embedding, then the same command sends only the texts not cached and removes every paraphrase', async () => {
  const server = await startFakeServer({ embeddingLatencyMs: 400 });
  const { dir, store } = makeRun(items);
  store.close();
  const args = ['curate', '--run', dir, '--dedup', 'semantic', '--rules', 'none', '--base-url', server.url, '--embedding-model', 'embed-test'];
  const env = { OPENAI_API_KEY: 'sk-embed-secret' };
  try {
    const cli = spawnCli(args, { env });
    // At most 4 batches are in flight, so a 6th request means at least two answers were cached.
    while (server.embeddingRequests.length < 6) await new Promise((r) => setTimeout(r, 20));
    cli.child.kill('SIGKILL');
    await cli.exited;
    const cached = cachedVectors(dir);
    assert.ok(cached >= 128 && cached < 400, `cached before the kill: ${cached}`);
    const sentBefore = server.embeddingRequests.flat().length;

    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    const resent = server.embeddingRequests.flat().slice(sentBefore);
    assert.equal(resent.length, 400 - cached, 'the re-run sends only the texts not cached');
    assert.equal(cachedVectors(dir), 400);

    const after = RunStore.open(dir);
    const all = after.listItems();
    after.close();
    const dups = all.filter((it) => it.reason === 'duplicate:semantic');
    assert.equal(dups.length, 200);
    for (const d of dups) {
      assert.match(d.instruction, /^Compose/);
      const kept = all.find((it) => String(it.id) === d.duplicateOf)!;
      assert.equal(kept.status, 'kept');
      assert.equal(kept.instruction.match(/zor\d+/)![0], d.instruction.match(/zor\d+/)![0]);
      assert.ok(d.similarity! >= 0.9);
    }

    // A third run finds every vector cached and sends nothing.
    const before3 = server.embeddingRequests.length;
    const r3 = await runCli(args, { env });
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal(server.embeddingRequests.length, before3);
  } finally {
    await server.close();
  }
});
