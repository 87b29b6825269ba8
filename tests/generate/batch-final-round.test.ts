import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

test('batch rounds of a saturating teacher: the last round is sized from what is missing and the yield seen, and polling leaks no abort listeners', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  // The teacher's variety runs out: the kept yield falls from 20 a request to a few.
  const server = await startFakeServer({ saturateAfter: 8, batch: { inProgressMs: 150 } });
  const runDir = join(mkdtempSync(join(tmpdir(), 'forge-final-')), 'run');
  try {
    const config = forgeConfigSchema.parse({
      generation: { baseUrl: server.url, model: 'test-model', mode: 'batch', target: 500, seed: 1, batch: { maxRequests: 300, pollSeconds: 0.005, maxPollSeconds: 0.01 } },
    });
    const out = await runGeneration({ runDir, config, signal: new AbortController().signal, onEvent: () => {} });
    assert.equal(out.reason, 'target');
    const store = RunStore.open(runDir);
    const rounds = store.batches().map((b) => {
      const ids = new Set(Array.from({ length: b.lastRequest - b.firstRequest + 1 }, (_, i) => b.firstRequest + i));
      const kept = store.listItems({ status: ['kept'] }).filter((it) => it.requestId !== null && ids.has(it.requestId)).length;
      return { requests: ids.size, kept };
    });
    store.close();
    assert.ok(rounds.length >= 2, JSON.stringify(rounds));
    let keptBefore = 0;
    for (let r = 1; r < rounds.length; r++) {
      keptBefore += rounds[r - 1]!.kept;
      const missing = 500 - keptBefore;
      const seenYield = rounds[r - 1]!.kept / rounds[r - 1]!.requests;
      // Enough for what is missing at the yield the last round showed, with a margin; never the whole round size.
      assert.ok(rounds[r]!.requests <= Math.ceil((3 * missing) / seenYield) + 4, `round ${r + 1}: ${rounds[r]!.requests} requests for ${missing} missing at ${seenYield.toFixed(2)} kept a request`);
    }
    const leaks = warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
    assert.deepEqual(leaks.map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
    await server.close();
  }
});

test('the round cap: 15 missing at 0.1 kept a request asks a few hundred requests, not the round size; no round seen, no cap', async () => {
  const { batchRoundCap } = await import('../../src/generate/batch-round-size.js');
  const cap = batchRoundCap(15, { answers: 2000, kept: 200 });
  assert.ok(cap >= 150 && cap <= 400, `cap ${cap}`);
  assert.equal(batchRoundCap(0, { answers: 2000, kept: 200 }), 0);
  assert.equal(batchRoundCap(15, { answers: 0, kept: 0 }), Number.POSITIVE_INFINITY);
  // A round that kept nothing bounds the yield by one a round: the cap is then far above any round size.
  assert.ok(batchRoundCap(15, { answers: 2000, kept: 0 }) > 2000);
});
