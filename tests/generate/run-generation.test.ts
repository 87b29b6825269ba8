import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { RunStore } from '../../src/store/run-store.js';
import type { GenerateEvent } from '../../src/events.js';
import { ApiError } from '../../src/errors.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

const tmpRun = () => join(mkdtempSync(join(tmpdir(), 'forge-gen-')), 'run');

function config(url: string, generation: Record<string, unknown> = {}) {
  return forgeConfigSchema.parse({ generation: { baseUrl: url, model: 'test-model', concurrency: 4, target: 100, seed: 1, ...generation }, prices: { 'test-model': { input: 1, output: 2 } } });
}

function collect() {
  const events: GenerateEvent[] = [];
  return { events, onEvent: (e: GenerateEvent) => events.push(e) };
}

test('stops at exactly the target, records every request and item, and resumes to a higher target', async () => {
  const server = await startFakeServer({ latencyMs: 5 });
  const runDir = tmpRun();
  try {
    const c = collect();
    const out = await runGeneration({ runDir, config: config(server.url, { target: 130 }), signal: new AbortController().signal, ...c });
    assert.equal(out.reason, 'target');
    assert.equal(out.kept, 130);
    const store = RunStore.open(runDir);
    const s = store.summary();
    assert.equal(s.byStatus['kept'], 130);
    assert.equal(s.requests.ok, server.requests.length);
    const all = store.listItems();
    assert.equal(all.length, server.requests.length * 20, 'every parsed item is stored, kept or not');
    assert.equal(store.getMeta('template_name'), 'json');
    assert.match(store.getMeta('template_text') ?? '', /JSON array/);
    assert.doesNotMatch(store.getMeta('config') ?? '', /sk-/);
    store.close();
    // The prompt showed 3 examples, as configured.
    assert.equal((server.requests[0]!.messages[0]!.content.match(/^\{ "instruction"/gm) ?? []).length, 3);

    const again = await runGeneration({ runDir, config: config(server.url, { target: 170 }), signal: new AbortController().signal, ...collect() });
    assert.equal(again.kept, 170);
    const store2 = RunStore.open(runDir);
    assert.equal(store2.countItems('kept'), 170);
    store2.close();
  } finally {
    await server.close();
  }
});

test('duplicates of seeds and of earlier items are rejected online, naming what they duplicate', async () => {
  const dupAnswer = JSON.stringify([
    { instruction: 'Explain tempura vel dor kamilo.', input: '', output: 'x' },
    { instruction: 'explain   TEMPURA vel dor kamilo.', input: '', output: 'y' },
  ]);
  const server = await startFakeServer({ behave: (n) => (n === 0 ? { kind: 'ok', text: dupAnswer } : { kind: 'ok' }) });
  const runDir = tmpRun();
  try {
    await runGeneration({ runDir, config: config(server.url, { target: 30, concurrency: 1 }), signal: new AbortController().signal, ...collect() });
    const store = RunStore.open(runDir);
    const items = store.listItems();
    assert.equal(items[0]!.status, 'kept');
    assert.equal(items[1]!.status, 'duplicate');
    assert.equal(items[1]!.duplicateOf, String(items[0]!.id));
    store.close();
  } finally {
    await server.close();
  }
});

test('rule rejections are stored with the rule and its explanation; parse failures with theirs', async () => {
  const answer = JSON.stringify([
    { instruction: 'Draw a picture of a happy cat wearing a hat.', input: '', output: 'x' },
    { instruction: 'Explain tempura vel dor kamilo quickly.', input: '', output: 'fine' },
  ]).replace(/\]$/, ', {"instruction": "Explain broken"}]');
  const server = await startFakeServer({ behave: (n) => (n === 0 ? { kind: 'ok', text: answer } : { kind: 'ok' }) });
  const runDir = tmpRun();
  try {
    await runGeneration({ runDir, config: config(server.url, { target: 20, concurrency: 1 }), signal: new AbortController().signal, ...collect() });
    const store = RunStore.open(runDir);
    const [drawn, good, broken] = store.listItems();
    assert.equal(drawn!.status, 'rejected');
    assert.equal(drawn!.reason, 'rule:blacklist');
    assert.match(drawn!.detail ?? '', /draw|picture/i);
    assert.equal(good!.status, 'kept');
    assert.equal(good!.detail, null);
    assert.equal(broken!.status, 'dropped');
    assert.match(broken!.detail ?? '', /missing "output"/);
    store.close();
  } finally {
    await server.close();
  }
});

test('--budget-usd stops before the budget is exceeded, counting requests in flight', async () => {
  const server = await startFakeServer({ latencyMs: 20, behave: () => ({ kind: 'ok', usage: { prompt_tokens: 1000, completion_tokens: 1000 } }) });
  const runDir = tmpRun();
  try {
    // Each answer costs 1000·1e-6 + 1000·2e-6 = $0.003; the worst case reserved is larger (max_tokens 2000 at $2/M).
    const c = collect();
    const out = await runGeneration({ runDir, config: config(server.url, { target: 100000, budgetUsd: 0.05, maxTokens: 2000, concurrency: 8 }), signal: new AbortController().signal, ...c });
    assert.equal(out.reason, 'budget');
    const store = RunStore.open(runDir);
    const spent = store.summary().costUsd;
    store.close();
    assert.ok(spent <= 0.05 + 1e-12, `spent ${spent}`);
    assert.ok(spent >= 0.05 - 0.02, `stopped too early: ${spent}`);
    assert.match((c.events.at(-1) as { message: string }).message, /budget/);
  } finally {
    await server.close();
  }
});

test('a budget without a price for the model is refused before any request', async () => {
  const server = await startFakeServer();
  try {
    const cfg = forgeConfigSchema.parse({ generation: { baseUrl: server.url, model: 'unpriced', budgetUsd: 1 } });
    await assert.rejects(runGeneration({ runDir: tmpRun(), config: cfg, signal: new AbortController().signal, ...collect() }), /prices has no entry for model "unpriced"/);
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

test('an endpoint that is down pauses the run, then stops it resumably instead of hammering', async () => {
  const server = await startFakeServer({ behave: () => ({ kind: 'status', status: 503 }) });
  const runDir = tmpRun();
  try {
    const c = collect();
    const out = await runGeneration({
      runDir,
      config: config(server.url, { concurrency: 8, maxRetries: 50, pauseAfterFailures: 3, pauseSeconds: 0.05, maxPauses: 2 }),
      signal: new AbortController().signal,
      ...c,
    });
    assert.equal(out.reason, 'endpoint-down');
    const pauses = c.events.filter((e) => e.type === 'transport' && e.transport.state === 'paused');
    assert.equal(pauses.length, 2);
    // 3 failures open the gate; afterwards only single probes go out: far fewer than 8 workers × 50 retries.
    assert.ok(server.requests.length <= 3 + 8 + 2, `sent ${server.requests.length} requests`);
  } finally {
    await server.close();
  }
});

test('a fatal API error (401) stops the run with the hint, nothing half-written', async () => {
  const server = await startFakeServer({ behave: (n) => (n < 3 ? { kind: 'ok' } : { kind: 'status', status: 401 }) });
  const runDir = tmpRun();
  try {
    await assert.rejects(runGeneration({ runDir, config: config(server.url, { concurrency: 1, target: 1000 }), apiKey: 'sk-abc', signal: new AbortController().signal, ...collect() }), (e: unknown) => {
      assert.ok(e instanceof ApiError && e.status === 401);
      return true;
    });
    const store = RunStore.open(runDir);
    assert.equal(store.countItems('kept'), 60);
    assert.equal(store.summary().requests.failed, 1);
    store.close();
  } finally {
    await server.close();
  }
});

test('the Alpaca numbered-list template and a Chinese run both work end to end', async () => {
  const server = await startFakeServer();
  try {
    const en = tmpRun();
    const a = await runGeneration({ runDir: en, config: config(server.url, { template: 'alpaca', target: 40 }), signal: new AbortController().signal, ...collect() });
    assert.equal(a.kept, 40);
    assert.match(server.requests[0]!.messages[0]!.content, /###\n4\. Instruction:\s*$/);
    const zh = tmpRun();
    const b = await runGeneration({ runDir: zh, config: config(server.url, { lang: 'zh', target: 40 }), signal: new AbortController().signal, ...collect() });
    assert.equal(b.kept, 40);
    const store = RunStore.open(zh);
    assert.match(store.listItems({ status: ['kept'] })[0]!.instruction, /[\u4e00-\u9fff]/);
    assert.equal(store.summary().lang, 'zh');
    store.close();
  } finally {
    await server.close();
  }
});

test('an abort stops new requests, marks those in flight, and leaves the run resumable', async () => {
  const server = await startFakeServer({ latencyMs: 200 });
  const runDir = tmpRun();
  try {
    const ac = new AbortController();
    // Abort once three answers are committed (a 'samples' event follows a commit that kept something, at most 4 a second).
    let committed = 0;
    let onCommitted = () => {};
    const threeCommitted = new Promise<void>((resolve) => (onCommitted = resolve));
    const out0 = runGeneration({
      runDir,
      config: config(server.url, { target: 100000, concurrency: 4 }),
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'samples' && ++committed === 3) onCommitted();
      },
    });
    await Promise.race([threeCommitted, out0.then((o) => Promise.reject(new Error(`generation ended (${o.reason}) before three answers were committed`)))]);
    ac.abort(new Error('SIGINT'));
    const out = await out0;
    assert.equal(out.reason, 'interrupted');
    const store = RunStore.open(runDir);
    const s = store.summary();
    assert.equal(s.requests.inFlight, 0);
    assert.ok(s.requests.ok > 0);
    assert.equal(s.byStatus['kept'], s.requests.ok * 20);
    store.close();
  } finally {
    await server.close();
  }
});

test('a run whose answers are nearly all rejected warns once about the low yield, with the top reasons', async () => {
  const same = JSON.stringify(Array.from({ length: 5 }, () => ({ instruction: 'Explain tempura vel dor kamilo.', input: '', output: 'x' })));
  const server = await startFakeServer({ behave: () => ({ kind: 'ok', text: same, usage: { prompt_tokens: 1000, completion_tokens: 0 } }) });
  const runDir = tmpRun();
  try {
    const c = collect();
    // $0.001 per answer: the budget stops the run after about 250 answers, well past the 100-answer window.
    const out = await runGeneration({ runDir, config: config(server.url, { target: 100000, budgetUsd: 0.25, maxTokens: 50, concurrency: 4 }), signal: new AbortController().signal, ...c });
    assert.equal(out.reason, 'budget');
    assert.ok(server.requests.length > 150, `only ${server.requests.length} answers`);
    const warnings = c.events.filter((e): e is Extract<GenerateEvent, { type: 'warning' }> => e.type === 'warning');
    assert.equal(warnings.length, 1, warnings.map((w) => w.message).join('\n'));
    const low = warnings[0]!.lowYield;
    assert.ok(low, 'the warning carries the figures');
    assert.equal(low.answers, 100);
    assert.equal(low.requested, 100 * 20);
    assert.equal(low.topReasons[0]!.reason, 'duplicate:exact');
    assert.match(warnings[0]!.message, /low yield: \d+ of 2000 requested items kept .*top rejections: duplicate:exact/);
  } finally {
    await server.close();
  }
});

test('a Ctrl-C that arrives while the run is still opening stops it before any request', async () => {
  const server = await startFakeServer();
  const runDir = tmpRun();
  try {
    const ac = new AbortController();
    ac.abort(new Error('SIGINT'));
    const out = await runGeneration({ runDir, config: config(server.url, { target: 1000 }), signal: ac.signal, ...collect() });
    assert.equal(out.reason, 'interrupted');
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

test('a target one round fills is not held a second round trip for a top-up request', async () => {
  // 8 requests of 20 new tasks each give 160 for a target of 150. Topping up as the first answers came in (the
  // estimate of the rest not yet in) sent a ninth request and waited a whole round trip for it.
  const server = await startFakeServer({ latencyMs: 300 });
  const runDir = tmpRun();
  try {
    const out = await runGeneration({ runDir, config: config(server.url, { target: 150, concurrency: 8 }), signal: new AbortController().signal, ...collect() });
    assert.equal(out.kept, 150);
    assert.equal(server.requests.length, 8, `${server.requests.length} requests`);
  } finally {
    await server.close();
  }
});

test('a saturating teacher: the tail still keeps requests in flight together instead of one at a time', async () => {
  // Yield falls from 20 to about 1 per request; at concurrency 8 the end needs several requests per round trip.
  const server = await startFakeServer({ latencyMs: 150, saturateAfter: 1 });
  const runDir = tmpRun();
  try {
    const out = await runGeneration({ runDir, config: config(server.url, { target: 100, concurrency: 8 }), signal: new AbortController().signal, ...collect() });
    assert.equal(out.kept, 100);
    // Requests of the last quarter found this many others being answered when they arrived; scheduling from the
    // session-average yield sent them nearly one at a time (about 1.5 here), the recent yield keeps the round full.
    const tail = server.concurrentAtArrival.slice(-Math.floor(server.concurrentAtArrival.length / 4));
    const together = tail.reduce((a, b) => a + b, 0) / tail.length;
    assert.ok(together >= 2.5, `the last ${tail.length} requests arrived with ${together.toFixed(2)} others on average (${tail.join(',')})`);
    // The overshoot stays near one concurrency's worth of requests (answers waiting for the writer come on top).
    const store = RunStore.open(runDir);
    const overTarget = store.summary().byReason['over-target'] ?? 0;
    store.close();
    assert.ok(server.requests.length > 40, `the teacher saturated (${server.requests.length} requests)`);
    assert.ok(overTarget <= 2 * 8 * 20, `over-target ${overTarget}`);
  } finally {
    await server.close();
  }
});
