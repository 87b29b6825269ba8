import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { runCli } from '../helpers/cli.js';
import { makeRun } from '../ui/run-fixture.js';

// 100 tasks and a paraphrase of each (synonyms the fake embeddings fold together).
const items = Array.from({ length: 100 }, (_, i) => [
  { instruction: `Write a short story about zor${i} and qua${i} for children.`, output: `Story ${i}.` },
  { instruction: `Compose a brief tale about qua${i} and zor${i} for kids.`, output: `Tale ${i}.` },
]).flat();

function embedRows(dir: string): Array<{ prompt_tokens: number; cost_usd: number; endpoint: string }> {
  const db = new Database(join(dir, 'run.db'), { readonly: true });
  try {
    return db.prepare(`SELECT prompt_tokens, cost_usd, endpoint FROM requests WHERE kind = 'embed'`).all() as Array<{ prompt_tokens: number; cost_usd: number; endpoint: string }>;
  } finally {
    db.close();
  }
}

test('curate --dedup semantic on a run: generation.budgetUsd counts what the run spent before; several --base-url make a pool; each request is in the run totals', async () => {
  const a = await startFakeServer({ embeddingLatencyMs: 20 });
  const b = await startFakeServer({ embeddingLatencyMs: 20 });
  // The fixture's generation request cost $0.001. A batch of 64 texts reserves about $0.0004 at $0.1/M, which a
  // fresh $0.001 budget would allow; counted from the run's spending, nothing may go.
  const { dir, store } = makeRun(items);
  store.close();
  const config = join(dirname(dir), 'forge.yaml');
  const prices = 'prices:\n  embed-test: { input: 0.1, output: 0 }\n';
  const args = ['curate', '--run', dir, '--dedup', 'semantic', '--rules', 'none', '--base-url', a.url, '--base-url', b.url, '--embedding-model', 'embed-test', '--config', config];
  const env = { OPENAI_API_KEY: 'sk-embed-secret' };
  try {
    writeFileSync(config, `generation:\n  budgetUsd: 0.001\n${prices}`);
    const capped = await runCli(args, { env });
    assert.notEqual(capped.code, 0, capped.stderr);
    assert.match(capped.stderr, /budget stops the run with 200 texts not embedded \(\$0\.0010 spent\)/);
    assert.equal(a.embeddingRequests.length + b.embeddingRequests.length, 0);

    writeFileSync(config, prices);
    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(a.embeddingRequests.length > 0 && b.embeddingRequests.length > 0, `a ${a.embeddingRequests.length}, b ${b.embeddingRequests.length}`);
    const rows = embedRows(dir);
    assert.equal(rows.length, a.embeddingRequests.length + b.embeddingRequests.length);
    assert.deepEqual(new Set(rows.map((x) => x.endpoint)).size, 2);
    assert.equal(rows.reduce((s, x) => s + x.prompt_tokens, 0), 200);
    const after = RunStore.open(dir);
    const dups = after.listItems().filter((it) => it.reason === 'duplicate:semantic');
    after.close();
    assert.equal(dups.length, 100);

    const stats = await runCli(['stats', '--run', dir], { env });
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, new RegExp(`embeddings ${rows.length}\\b`));
  } finally {
    await a.close();
    await b.close();
  }
});
