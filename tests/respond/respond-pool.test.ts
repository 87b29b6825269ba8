import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runRespond, type RespondEvent } from '../../src/respond/run-respond.js';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore, type StoredResponse } from '../../src/store/responses.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-openai-server.js';
import { runCli } from '../helpers/cli.js';
import { makeRun } from '../ui/run-fixture.js';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ instruction: `Explain idea number ${i} in plain words.`, output: `Idea ${i} is simple.` }));

/** A run of n kept samples and a forge.yaml beside it. */
function runWithConfig(n: number, yaml: string): { dir: string; config: string } {
  const { dir, store } = makeRun(items(n));
  store.close();
  const config = join(dirname(dir), 'forge.yaml');
  writeFileSync(config, yaml);
  return { dir, config };
}

function modelResponses(dir: string, status?: StoredResponse['status'][]): StoredResponse[] {
  const store = RunStore.open(dir);
  try {
    return new ResponseStore(store).listResponses(status ? { status } : {}).filter((r) => r.source === 'model');
  } finally {
    store.close();
  }
}

const events = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as RespondEvent);

async function closeAll(...servers: FakeServer[]) {
  await Promise.all(servers.map((s) => s.close()));
}

test('forge.yaml listing two endpoints and no baseUrl: every response is answered by those two, none by $OPENAI_BASE_URL, and each records its endpoint', async () => {
  const a = await startFakeServer({ answers: 'text', latencyMs: 20 });
  const b = await startFakeServer({ answers: 'text', latencyMs: 20 });
  const elsewhere = await startFakeServer({ answers: 'text' });
  try {
    const { dir, config } = runWithConfig(12, `generation:\n  model: m1\n  endpoints:\n    - { baseUrl: ${a.url} }\n    - { baseUrl: ${b.url}, apiKeyEnv: B_KEY }\n`);
    const r = await runCli(['respond', '--run', dir, '--config', config, '--responses', '3', '--concurrency', '4', '--json'], {
      env: { OPENAI_BASE_URL: elsewhere.url, OPENAI_API_KEY: 'sk-a', B_KEY: 'sk-b' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(elsewhere.requests.length, 0, 'nothing went to $OPENAI_BASE_URL');
    assert.equal(a.requests.length + b.requests.length, 24);
    assert.ok(a.requests.length > 0 && b.requests.length > 0, `a took ${a.requests.length}, b ${b.requests.length}`);
    assert.ok(a.authHeaders.every((h) => h === 'Bearer sk-a') && b.authHeaders.every((h) => h === 'Bearer sk-b'), 'each endpoint gets the key its apiKeyEnv names');

    const start = events(r.stdout).find((e) => e.type === 'start');
    assert.deepEqual(start?.type === 'start' && start.endpoints, [
      { endpoint: a.url, model: 'm1' },
      { endpoint: b.url, model: 'm1' },
    ]);
    const rs = modelResponses(dir);
    assert.equal(rs.length, 24);
    assert.equal(rs.filter((x) => x.endpoint === a.url).length, a.requests.length);
    assert.equal(rs.filter((x) => x.endpoint === b.url).length, b.requests.length);
    assert.ok(rs.every((x) => x.model === 'm1'));
  } finally {
    await closeAll(a, b, elsewhere);
  }
});

test('a model no endpoint serves is refused before any request, in one line naming it, the models served and what to do; --base-url then sends it to one endpoint', async () => {
  const a = await startFakeServer({ answers: 'text' });
  const elsewhere = await startFakeServer({ answers: 'text' });
  try {
    const { dir, config } = runWithConfig(3, `generation:\n  model: m1\n  endpoints:\n    - { baseUrl: ${a.url} }\n    - { baseUrl: ${a.url}, model: m2 }\n`);
    const args = ['respond', '--run', dir, '--config', config, '--responses', '3', '--models', 'm1,m9'];
    const r = await runCli(args, { env: { OPENAI_BASE_URL: elsewhere.url } });
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      'error: no endpoint in generation.endpoints serves model "m9" (they serve "m1", "m2")',
      "  → add an endpoint with model: m9 to generation.endpoints, or pass --base-url to send respond's requests to one endpoint",
    ]);
    assert.equal(a.requests.length + elsewhere.requests.length, 0, 'no request went anywhere');
    assert.equal(modelResponses(dir, ['ok', 'failed', 'abandoned', 'in_flight']).length, 0);

    const one = await runCli([...args, '--base-url', elsewhere.url], { env: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(a.requests.length, 0, 'one --base-url replaces forge.yaml\'s endpoints');
    assert.deepEqual(elsewhere.requests.map((x) => x.model).sort(), ['m1', 'm1', 'm1', 'm9', 'm9', 'm9']);
    assert.ok(modelResponses(dir).every((x) => x.endpoint === elsewhere.url));
  } finally {
    await closeAll(a, elsewhere);
  }
});

test('two --base-url flags make a pool in place of forge.yaml\'s endpoints: every model goes to both, and the start line names them', async () => {
  const a = await startFakeServer({ answers: 'text', latencyMs: 20 });
  const b = await startFakeServer({ answers: 'text', latencyMs: 20 });
  const inFile = await startFakeServer({ answers: 'text' });
  try {
    const { dir, config } = runWithConfig(12, `generation:\n  model: m1\n  endpoints:\n    - { baseUrl: ${inFile.url} }\n`);
    const r = await runCli(['respond', '--run', dir, '--config', config, '--responses', '3', '--models', 'm1,m2', '--concurrency', '4', '--base-url', a.url, '--base-url', b.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^starting ${dir}: 12/36 responses for 12 samples · m1, m2 at ${a.url}, ${b.url} · concurrency 4$`, 'm'));
    assert.equal(inFile.requests.length, 0);
    assert.equal(a.requests.length + b.requests.length, 24);
    const rs = modelResponses(dir);
    for (const model of ['m1', 'm2']) {
      const at = new Set(rs.filter((x) => x.model === model).map((x) => x.endpoint));
      assert.deepEqual([...at].sort(), [a.url, b.url].sort(), `${model} was answered by both`);
    }
  } finally {
    await closeAll(a, b, inFile);
  }
});

test('an endpoint of the pool that refuses respond\'s requests is left out with a warning naming it; the other answers every response', async () => {
  const good = await startFakeServer({ answers: 'text', latencyMs: 10 });
  const refusing = await startFakeServer({ behave: () => ({ kind: 'status', status: 401 }) });
  try {
    const { dir, store } = makeRun(items(6));
    store.close();
    const config = forgeConfigSchema.parse({ generation: { model: 'm1', maxRetries: 0, endpoints: [{ baseUrl: refusing.url, apiKeyEnv: 'BAD_KEY' }, { baseUrl: good.url }] } });
    const seen: RespondEvent[] = [];
    const settings = { responses: 3, models: ['m1'], temperature: 1, topP: 1, maxTokens: 100, status: 'kept' as const, concurrency: 4, budgetUsd: null, prompt: 'respond' };
    const out = await runRespond({ runDir: dir, config, settings, signal: new AbortController().signal, onEvent: (e) => seen.push(e) });
    assert.equal(out.reason, 'done', out.message);
    assert.equal(out.filled, 18);
    const warnings = seen.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`^endpoint ${refusing.url} left out of the run, the others carry on: .*401.* — set \\$BAD_KEY to a key`));
    assert.ok(refusing.requests.length > 0, 'the refusing endpoint was asked');
    assert.ok(modelResponses(dir).every((x) => x.endpoint === good.url));
  } finally {
    await closeAll(good, refusing);
  }
});
