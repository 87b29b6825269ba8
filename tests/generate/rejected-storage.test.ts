import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

const dbBytes = (runDir: string) => ['run.db', 'run.db-wal'].map((f) => join(runDir, f)).filter(existsSync).reduce((n, f) => n + statSync(f).size, 0);

test('a teacher that only repeats itself: run.db grows with what is kept, not with what is asked, and the counts stay whole', async () => {
  // The teacher's one answer: 20 distinct tasks, the same every time (all duplicates from the second answer on).
  const source = await startFakeServer({ seed: 7 });
  const first = await (await fetch(`${source.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Write 20 tasks.' }] }) })).json() as { choices: Array<{ message: { content: string } }> };
  await source.close();
  const same = first.choices[0]!.message.content;
  let stopAt = Infinity;
  const stop = { controller: new AbortController() };
  const server = await startFakeServer({
    latencyMs: 2,
    behave: (n) => {
      if (n === stopAt) stop.controller.abort();
      return { kind: 'ok', text: same };
    },
  });
  const runDir = join(mkdtempSync(join(tmpdir(), 'forge-rejected-')), 'run');
  try {
    const config = forgeConfigSchema.parse({ generation: { baseUrl: server.url, model: 'm', concurrency: 4, target: 100000, seed: 1, minYield: 0, storeRejected: 40 } });
    const run = async (until: number) => {
      stopAt = until;
      stop.controller = new AbortController();
      const out = await runGeneration({ runDir, config, signal: stop.controller.signal, onEvent: () => {} });
      assert.equal(out.reason, 'interrupted');
      const store = RunStore.open(runDir);
      const s = store.summary();
      const stored = store.listItems();
      store.close();
      return { bytes: dbBytes(runDir), answered: s.requests.ok, s, stored };
    };
    const a = await run(60);
    const b = await run(360);
    const kept = b.s.byStatus['kept'] ?? 0;
    assert.ok(kept > 0 && kept <= 20);
    // Every task of every answer is counted, stored or not.
    const tasks = same.match(/"instruction"/g)?.length ?? 0;
    assert.equal(kept + (b.s.byStatus['duplicate'] ?? 0), tasks * b.answered);
    assert.equal(b.s.byReason['duplicate:exact'], tasks * b.answered - kept);
    // Kept items and the first 40 of the rejection reason are stored in full; nothing more.
    assert.equal(b.stored.length, kept + 40);
    const perAnswer = (b.bytes - a.bytes) / (b.answered - a.answered);
    // One answer is ~2 KB of raw text and 20 item rows; what remains of it is its request row (tokens, cost, time).
    assert.ok(perAnswer < 500, `run.db grew ${perAnswer.toFixed(0)} bytes per answer (${a.bytes} → ${b.bytes} over ${b.answered - a.answered} answers)`);
  } finally {
    await server.close();
  }
});
