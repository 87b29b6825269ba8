import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { RunStore } from '../../src/store/run-store.js';
import { DataError } from '../../src/errors.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-openai-server.js';

const config = (url: string) =>
  forgeConfigSchema.parse({ generation: { baseUrl: url, model: 'test-model', target: 400, seed: 1, machineExamplesAfter: 10, batch: { maxRequests: 4 } } });
const quiet = { onEvent: () => {} };

/** Answers every line of an emitted file as vLLM's run_batch does, through the fake server. */
async function answer(server: FakeServer, inFile: string): Promise<string[]> {
  const lines = readFileSync(inFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { custom_id: string; body: unknown });
  return Promise.all(
    lines.map(async (l) => {
      const r = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(l.body) });
      return JSON.stringify({ id: `vllm-${l.custom_id}`, custom_id: l.custom_id, response: { status_code: 200, request_id: l.custom_id, body: await r.json() }, error: null });
    }),
  );
}

test("ingesting an old round's file again counts every line it skips", async () => {
  const server = await startFakeServer();
  const dir = mkdtempSync(join(tmpdir(), 'forge-ingest-'));
  const runDir = join(dir, 'run');
  try {
    const cfg = config(server.url);
    const signal = new AbortController().signal;
    await runGeneration({ runDir, config: cfg, signal, batch: { kind: 'emit', file: join(dir, 'in1.jsonl') }, ...quiet });
    const out1 = join(dir, 'out1.jsonl');
    writeFileSync(out1, `${(await answer(server, join(dir, 'in1.jsonl'))).join('\n')}\n`);
    await runGeneration({ runDir, config: cfg, signal, batch: { kind: 'ingest', file: out1 }, ...quiet });
    await runGeneration({ runDir, config: cfg, signal, batch: { kind: 'emit', file: join(dir, 'in2.jsonl') }, ...quiet });
    const again = await runGeneration({ runDir, config: cfg, signal, batch: { kind: 'ingest', file: out1 }, ...quiet });
    assert.match(again.message, /ingested 0 results from .*out1\.jsonl \(4 already ingested, skipped\); 4 requests still wait for results/);
  } finally {
    await server.close();
  }
});

test('a file with lines of no request of this run is refused whole: nothing of it is ingested, and the message says so', async () => {
  const server = await startFakeServer();
  const dir = mkdtempSync(join(tmpdir(), 'forge-ingest-'));
  const runDir = join(dir, 'run');
  try {
    const cfg = config(server.url);
    const signal = new AbortController().signal;
    const inFile = join(dir, 'in.jsonl');
    await runGeneration({ runDir, config: cfg, signal, batch: { kind: 'emit', file: inFile }, ...quiet });
    const valid = await answer(server, inFile);
    const tag = (JSON.parse(valid[0]!) as { custom_id: string }).custom_id.replace(/-\d+$/, '');
    const unknown = [
      JSON.stringify({ id: 'x1', custom_id: 'other-run-7', response: null, error: 'lost' }),
      JSON.stringify({ id: 'x2', custom_id: `${tag}-9999`, response: null, error: 'lost' }),
    ];
    for (const lines of [[...valid, unknown[0]!], [unknown[1]!, ...valid]]) {
      const file = join(dir, 'mixed.jsonl');
      writeFileSync(file, `${lines.join('\n')}\n`);
      await assert.rejects(runGeneration({ runDir, config: cfg, signal, batch: { kind: 'ingest', file }, ...quiet }), (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        assert.match(e.message, /mixed\.jsonl: custom_id "[^"]+" is not (from this run|a request this run wrote)[^;]*; 1 of its 5 lines name no request of this run/);
        assert.match(e.message, /nothing was ingested/);
        return true;
      });
      const store = RunStore.open(runDir);
      assert.equal(store.summary().requests.queued, 4, 'every request of the round still waits');
      assert.equal(store.countItems('kept'), 0);
      store.close();
    }
    // The run's own lines go in, one of them a request vLLM's run_batch failed with a plain-string error.
    const failedId = (JSON.parse(valid[0]!) as { custom_id: string }).custom_id;
    const failed = JSON.stringify({ id: 'vllm-x', custom_id: failedId, response: { status_code: 400, request_id: 'r', body: null }, error: 'Request must not be sent in stream mode' });
    writeFileSync(join(dir, 'out.jsonl'), `${[failed, ...valid.slice(1)].join('\n')}\n`);
    const done = await runGeneration({ runDir, config: cfg, signal, batch: { kind: 'ingest', file: join(dir, 'out.jsonl') }, ...quiet });
    assert.match(done.message, /ingested 4 results/);
    const store = RunStore.open(runDir);
    const s = store.summary();
    assert.deepEqual([s.requests.ok, s.requests.failed, s.requests.queued], [3, 1, 0]);
    assert.equal(store.countItems('kept'), 60);
    store.close();
  } finally {
    await server.close();
  }
});
