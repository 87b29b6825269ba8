import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { RunStore } from '../../src/store/run-store.js';
import type { GenerateEvent } from '../../src/events.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-openai-server.js';

const tmpRun = () => join(mkdtempSync(join(tmpdir(), 'forge-batch-')), 'run');

function config(url: string, generation: Record<string, unknown> = {}, prices: Record<string, unknown> = { 'test-model': { input: 1, output: 2, batchInput: 0.5, batchOutput: 1 } }) {
  return forgeConfigSchema.parse({
    generation: { baseUrl: url, model: 'test-model', mode: 'batch', target: 150, seed: 1, machineExamplesAfter: 10, batch: { maxRequests: 4, pollSeconds: 0.02, maxPollSeconds: 0.05 }, ...generation },
    prices,
  });
}

function collect() {
  const events: GenerateEvent[] = [];
  return { events, onEvent: (e: GenerateEvent) => events.push(e) };
}

/** The prompts of every line of every batch the server received. */
function batchPrompts(server: FakeServer): string[][] {
  return [...server.batchApi.batches.values()].map((b) =>
    server.batchApi.files
      .get(b.input_file_id)!
      .content.trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { body: { messages: Array<{ content: string }> } }).body.messages[0]!.content),
  );
}

test('batch mode reaches the target in rounds, each round shown the run\'s own kept tasks, at the batch price', async () => {
  const server = await startFakeServer({ batch: { inProgressMs: 80 } });
  const runDir = tmpRun();
  try {
    const c = collect();
    const out = await runGeneration({ runDir, config: config(server.url), signal: new AbortController().signal, ...c });
    assert.equal(out.reason, 'target');
    assert.equal(out.kept, 150);
    assert.equal(server.requests.length, 0, 'no online chat request');
    assert.equal(server.batchApi.batches.size, 2);
    for (const f of [...server.batchApi.batches.values()].map((b) => server.batchApi.files.get(b.input_file_id)!)) {
      assert.equal(f.purpose, 'batch');
      const line = JSON.parse(f.content.split('\n')[0]!) as { custom_id: string; method: string; url: string; body: { model: string } };
      assert.equal(line.method, 'POST');
      assert.equal(line.url, '/v1/chat/completions');
      assert.equal(line.body.model, 'test-model');
    }
    // Round 2 was built after round 1 was curated: its prompts show tasks the run kept (the fake writes "Explain …").
    const [first, second] = batchPrompts(server);
    assert.ok(first!.every((p) => !/Explain [a-z]+ [a-z]+ [a-z]+/.test(p)), 'round 1 has only seeds to show');
    assert.ok(second!.some((p) => /Explain [a-z]+ [a-z]+ [a-z]+/.test(p)), 'round 2 shows run samples');
    const store = RunStore.open(runDir);
    const rounds = store.batches();
    assert.deepEqual(rounds.map((b) => [b.status, b.batchId !== null, b.inputFileId !== null, b.outputFileId !== null, b.ingestedAt !== null]), [
      ['completed', true, true, true, true],
      ['completed', true, true, true, true],
    ]);
    const s = store.summary();
    assert.equal(s.requests.ok, 8);
    assert.equal(s.requests.queued, 0);
    assert.equal(s.byStatus['kept'], 150);
    // Batch prices: 0.5 and 1 USD per 1M tokens instead of 1 and 2.
    assert.ok(Math.abs(s.costUsd - (s.promptTokens * 0.5 + s.completionTokens * 1) / 1e6) < 1e-12);
    store.close();
    assert.ok(c.events.some((e) => e.type === 'batch' && e.status === 'in_progress'), 'the in_progress state was seen while polling');
    assert.ok(!c.events.some((e) => e.type === 'warning'));
  } finally {
    await server.close();
  }
});

test('without batch prices the normal price is used, and the run says so', async () => {
  const server = await startFakeServer();
  const runDir = tmpRun();
  try {
    const c = collect();
    await runGeneration({ runDir, config: config(server.url, { target: 60 }, { 'test-model': { input: 1, output: 2 } }), signal: new AbortController().signal, ...c });
    const warning = c.events.find((e) => e.type === 'warning');
    assert.match(warning && warning.type === 'warning' ? warning.message : '', /prices\.test-model has no batchInput\/batchOutput: batch requests are counted at the normal price/);
    const store = RunStore.open(runDir);
    const s = store.summary();
    store.close();
    assert.ok(Math.abs(s.costUsd - (s.promptTokens * 1 + s.completionTokens * 2) / 1e6) < 1e-12);
  } finally {
    await server.close();
  }
});

test('failed lines of the error file are recorded as failed requests and the run goes on to the target', async () => {
  const server = await startFakeServer({ batch: { failLine: (i) => i === 1 } });
  const runDir = tmpRun();
  try {
    const out = await runGeneration({ runDir, config: config(server.url), signal: new AbortController().signal, ...collect() });
    assert.equal(out.kept, 150);
    const store = RunStore.open(runDir);
    const s = store.summary();
    const withSecondLine = [...server.batchApi.batches.values()].filter((b) => b.request_counts.total >= 2).length;
    assert.equal(s.requests.failed, withSecondLine, 'one failed line per batch (the second)');
    assert.equal(s.requests.queued, 0);
    const failed = store.listItems().length;
    assert.equal(failed, s.requests.ok * 20);
    store.close();
  } finally {
    await server.close();
  }
});

test('a batch that expires with partial results: the answered lines are kept, the rest failed as expired', async () => {
  const server = await startFakeServer({ batch: { expireAfter: 2 } });
  const runDir = tmpRun();
  try {
    const out = await runGeneration({ runDir, config: config(server.url, { target: 100 }), signal: new AbortController().signal, ...collect() });
    assert.equal(out.kept, 100);
    const store = RunStore.open(runDir);
    const rounds = store.batches();
    assert.ok(rounds.length >= 2);
    assert.ok(rounds.every((b) => b.ingestedAt !== null));
    const sizes = rounds.map((b) => b.lastRequest - b.firstRequest + 1);
    assert.ok(rounds.every((b, i) => b.status === (sizes[i]! > 2 ? 'expired' : 'completed')), rounds.map((b) => b.status).join(','));
    assert.equal(store.summary().requests.ok, sizes.reduce((a, n) => a + Math.min(n, 2), 0));
    const s = store.summary();
    assert.equal(s.requests.failed, s.requests.total - s.requests.ok);
    store.close();
  } finally {
    await server.close();
  }
});

test('Ctrl-C while a batch runs leaves it running and says how to resume or cancel; the rerun polls the same batch', async () => {
  const server = await startFakeServer({ batch: { inProgressMs: 1500 } });
  const runDir = tmpRun();
  try {
    const ctl = new AbortController();
    const c = collect();
    const run = runGeneration({ runDir, config: config(server.url), signal: ctl.signal, ...c });
    while (!c.events.some((e) => e.type === 'batch' && e.status === 'in_progress')) await new Promise((r) => setTimeout(r, 10));
    ctl.abort(new Error('SIGINT'));
    const out = await run;
    assert.equal(out.reason, 'interrupted');
    const id = [...server.batchApi.batches.keys()][0]!;
    assert.match(out.message, new RegExp(`batch ${id} keeps running at the endpoint: rerun the same command to resume polling it, or add --cancel-batches to cancel it`));
    // Left running (stopping the writer thread can take longer than the batch itself on a loaded machine).
    assert.match(server.batchApi.batches.get(id)!.status, /^(in_progress|completed)$/);
    const store = RunStore.open(runDir);
    assert.equal(store.summary().requests.queued, 4, 'its requests wait, queued');
    store.close();

    const again = await runGeneration({ runDir, config: config(server.url), signal: new AbortController().signal, ...collect() });
    assert.equal(again.kept, 150);
    assert.equal(server.batchApi.batches.size, 2, 'round 1 was not submitted again');
    assert.equal(new Set(server.batchApi.linesRun).size, server.batchApi.linesRun.length);
  } finally {
    await server.close();
  }
});

test('--cancel-batches cancels the running batch, fails its requests as cancelled, and stops', async () => {
  const server = await startFakeServer({ batch: { inProgressMs: 5000 } });
  const runDir = tmpRun();
  try {
    const ctl = new AbortController();
    const c = collect();
    const run = runGeneration({ runDir, config: config(server.url), signal: ctl.signal, ...c });
    while (!c.events.some((e) => e.type === 'batch' && e.status === 'in_progress')) await new Promise((r) => setTimeout(r, 10));
    ctl.abort(new Error('SIGINT'));
    await run;
    const out = await runGeneration({ runDir, config: config(server.url), signal: new AbortController().signal, batch: { kind: 'api', cancel: true }, ...collect() });
    assert.equal(out.reason, 'cancelled');
    assert.equal([...server.batchApi.batches.values()][0]!.status, 'cancelled');
    assert.equal(server.batchApi.batches.size, 1, 'no new round after a cancel');
    const store = RunStore.open(runDir);
    const s = store.summary();
    assert.equal(s.requests.queued, 0);
    assert.equal(s.requests.failed, 4);
    assert.ok(store.batches().every((b) => b.ingestedAt !== null));
    store.close();
  } finally {
    await server.close();
  }
});

test('--emit-batch writes one round as OpenAI batch JSONL; --ingest-batch curates its output once', async () => {
  const server = await startFakeServer();
  const runDir = tmpRun();
  const dir = mkdtempSync(join(tmpdir(), 'forge-offline-'));
  try {
    const cfg = config(server.url, { mode: 'online', target: 150 });
    const inFile = join(dir, 'in.jsonl');
    const emitted = await runGeneration({ runDir, config: cfg, signal: new AbortController().signal, batch: { kind: 'emit', file: inFile }, ...collect() });
    assert.equal(emitted.reason, 'batch-pending');
    const lines = readFileSync(inFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: { model: string; messages: unknown[] } });
    assert.equal(lines.length, 4);
    assert.ok(lines.every((l) => l.method === 'POST' && l.url === '/v1/chat/completions' && l.body.model === 'test-model'));
    assert.equal(new Set(lines.map((l) => l.custom_id)).size, 4);
    assert.equal(server.requests.length + server.batchApi.batches.size, 0, 'nothing was sent');

    // The offline engine: answer each line as vLLM's run_batch writes it.
    const outFile = join(dir, 'out.jsonl');
    const answers = await Promise.all(
      lines.map(async (l) => {
        const r = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(l.body) });
        return JSON.stringify({ id: `vllm-${l.custom_id}`, custom_id: l.custom_id, response: { status_code: 200, request_id: l.custom_id, body: await r.json() }, error: null });
      }),
    );
    writeFileSync(outFile, `${answers.join('\n')}\n`);
    const ingested = await runGeneration({ runDir, config: cfg, signal: new AbortController().signal, batch: { kind: 'ingest', file: outFile }, ...collect() });
    assert.equal(ingested.kept, 80);
    assert.equal(ingested.reason, 'batch-pending');
    const twice = await runGeneration({ runDir, config: cfg, signal: new AbortController().signal, batch: { kind: 'ingest', file: outFile }, ...collect() }).catch((e: Error) => e);
    assert.ok(twice instanceof Error && /no round is waiting for results/.test(twice.message), 'a closed round is not ingested again');
    const store = RunStore.open(runDir);
    assert.equal(store.countItems('kept'), 80);
    assert.equal(store.listItems().length, 80);
    store.close();

    // A file from another run is refused, naming the file.
    await runGeneration({ runDir, config: cfg, signal: new AbortController().signal, batch: { kind: 'emit', file: join(dir, 'in2.jsonl') }, ...collect() });
    writeFileSync(join(dir, 'foreign.jsonl'), `${JSON.stringify({ id: 'x', custom_id: 'request-1', response: { status_code: 200, body: {} }, error: null })}\n`);
    await assert.rejects(
      runGeneration({ runDir, config: cfg, signal: new AbortController().signal, batch: { kind: 'ingest', file: join(dir, 'foreign.jsonl') }, ...collect() }),
      /foreign\.jsonl: custom_id "request-1" is not from this run/,
    );
  } finally {
    await server.close();
  }
});

test('batch mode with a pool of endpoints is refused before anything is sent, saying what to change', async () => {
  const server = await startFakeServer();
  try {
    const cfg = config(server.url, { endpoints: [{ baseUrl: server.url }, { baseUrl: server.url }] });
    await assert.rejects(runGeneration({ runDir: tmpRun(), config: cfg, signal: new AbortController().signal, ...collect() }), /batch mode sends its rounds to one endpoint/);
    assert.equal(server.batchApi.files.size + server.requests.length, 0);
  } finally {
    await server.close();
  }
});

test('--budget-usd in batch mode: rounds shrink to what the budget leaves, and the run stops before exceeding it', async () => {
  const server = await startFakeServer();
  const runDir = tmpRun();
  try {
    // Worst case per request at the batch price: ~1.5K prompt tokens x 0.5 + 3072 x 1 per 1M, about $0.0038.
    const out = await runGeneration({ runDir, config: config(server.url, { target: 1000, budgetUsd: 0.03 }), signal: new AbortController().signal, ...collect() });
    assert.equal(out.reason, 'budget');
    const store = RunStore.open(runDir);
    const s = store.summary();
    store.close();
    assert.ok(s.costUsd <= 0.03, `spent ${s.costUsd}`);
    // Each round reserves its worst case; a closed round's reservation is released, so most of the budget is spent.
    assert.ok(s.costUsd > 0.02, `spent only ${s.costUsd} of 0.03 in ${s.requests.ok} requests`);
  } finally {
    await server.close();
  }
});
