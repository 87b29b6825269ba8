import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { RunStore } from '../../src/store/run-store.js';
import type { GenerateEvent } from '../../src/events.js';
import { ApiError } from '../../src/errors.js';
import { EndpointPool, type PoolEndpointOptions } from '../../src/llm/endpoint-pool.js';
import { startFakeServer, type Behaviour, type FakeServer } from '../helpers/fake-openai-server.js';
import { runCli } from '../helpers/cli.js';

const tmpRun = () => join(mkdtempSync(join(tmpdir(), 'forge-pool-')), 'run');

function config(generation: Record<string, unknown>) {
  return forgeConfigSchema.parse({ generation: { model: 'test-model', concurrency: 8, target: 400, seed: 1, ...generation } });
}

function collect() {
  const events: GenerateEvent[] = [];
  return { events, onEvent: (e: GenerateEvent) => events.push(e) };
}

test('requests spread over the pool by weight; each request records the endpoint and model that answered', async () => {
  const a = await startFakeServer({ latencyMs: 30, seed: 11 });
  const b = await startFakeServer({ latencyMs: 30, seed: 22 });
  const runDir = tmpRun();
  try {
    const c = collect();
    const endpoints = [
      { baseUrl: a.url, weight: 3 },
      { baseUrl: b.url, weight: 1, model: 'other-model' },
    ];
    const out = await runGeneration({ runDir, config: config({ endpoints, target: 800 }), signal: new AbortController().signal, progressIntervalMs: 20, ...c });
    assert.equal(out.kept, 800);
    const share = a.requests.length / (a.requests.length + b.requests.length);
    assert.ok(share > 0.6 && share < 0.9, `endpoint a took ${a.requests.length}, b ${b.requests.length}`);
    assert.ok(b.requests.every((r) => r.model === 'other-model'));
    const store = RunStore.open(runDir);
    const tallies = store.endpointTallies();
    store.close();
    assert.deepEqual(
      tallies.map((t) => [t.endpoint, t.model, t.ok]),
      [
        [a.url, 'test-model', a.requests.length],
        [b.url, 'other-model', b.requests.length],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    const progress = c.events.filter((e): e is Extract<GenerateEvent, { type: 'progress' }> => e.type === 'progress' && e.endpoints !== undefined);
    assert.ok(progress.length > 0 && progress.at(-1)!.endpoints!.length === 2, 'progress shows each endpoint');
  } finally {
    await a.close();
    await b.close();
  }
});

test('each endpoint keeps to its own concurrency', async () => {
  const a = await startFakeServer({ latencyMs: 40 });
  const b = await startFakeServer({ latencyMs: 40 });
  try {
    const endpoints = [
      { baseUrl: a.url, concurrency: 2 },
      { baseUrl: b.url, concurrency: 6 },
    ];
    await runGeneration({ runDir: tmpRun(), config: config({ endpoints, concurrency: 16 }), signal: new AbortController().signal, ...collect() });
    assert.ok(Math.max(...a.concurrentAtArrival) <= 1, `a saw ${Math.max(...a.concurrentAtArrival) + 1} at once`);
    assert.ok(Math.max(...b.concurrentAtArrival) <= 5);
  } finally {
    await a.close();
    await b.close();
  }
});

test('an endpoint that goes down is drained and dropped while the others carry the run to its target', async () => {
  const up = await startFakeServer({ latencyMs: 20 });
  const down = await startFakeServer({ behave: () => ({ kind: 'status', status: 503 }) });
  const runDir = tmpRun();
  try {
    const endpoints = [{ baseUrl: up.url }, { baseUrl: down.url }];
    const out = await runGeneration({
      runDir,
      config: config({ endpoints, target: 300, maxRetries: 2, pauseAfterFailures: 2, pauseSeconds: 0.05, maxPauses: 2 }),
      signal: new AbortController().signal,
      ...collect(),
    });
    assert.equal(out.reason, 'target');
    assert.equal(out.kept, 300);
    // 2 failures open the breaker, then one probe per pause: a handful of attempts, not one per request of the run.
    assert.ok(down.requests.length <= 12, `the down endpoint got ${down.requests.length} attempts`);
    const store = RunStore.open(runDir);
    const s = store.summary();
    store.close();
    assert.equal(s.byStatus['kept'], 300);
  } finally {
    await up.close();
    await down.close();
  }
});

test('every endpoint down: the run stops resumably, as with one endpoint', async () => {
  const d1 = await startFakeServer({ behave: () => ({ kind: 'status', status: 503 }) });
  const d2 = await startFakeServer({ behave: () => ({ kind: 'status', status: 503 }) });
  try {
    const out = await runGeneration({
      runDir: tmpRun(),
      config: config({ endpoints: [{ baseUrl: d1.url }, { baseUrl: d2.url }], maxRetries: 1, pauseAfterFailures: 2, pauseSeconds: 0.02, maxPauses: 1 }),
      signal: new AbortController().signal,
      ...collect(),
    });
    assert.equal(out.reason, 'endpoint-down');
  } finally {
    await d1.close();
    await d2.close();
  }
});

test('--base-url given twice makes a pool of both endpoints; stats shows each one\'s throughput and errors', async () => {
  const a = await startFakeServer({ latencyMs: 10, seed: 11 });
  const b = await startFakeServer({ latencyMs: 10, seed: 22 });
  try {
    const runDir = tmpRun();
    const r = await runCli(['generate', '--run', runDir, '--target', '200', '--concurrency', '4', '--base-url', a.url, '--base-url', b.url, '--model', 'm', '--json'], { env: { OPENAI_API_KEY: 'sk-x' } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(a.requests.length > 0 && b.requests.length > 0, `a ${a.requests.length}, b ${b.requests.length}`);
    const stats = await runCli(['stats', '--run', runDir]);
    assert.equal(stats.code, 0, stats.stderr);
    const esc = (u: string) => u.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    assert.match(stats.stdout, /requests by endpoint:\n/);
    assert.match(stats.stdout, new RegExp(`  ${esc(a.url)} \\(m\\): ${a.requests.length} ok, 0 failed \\(0\\.0%\\), [\\d.]+ req/s`));
    assert.match(stats.stdout, new RegExp(`  ${esc(b.url)} \\(m\\): ${b.requests.length} ok, 0 failed`));
    const json = JSON.parse((await runCli(['stats', '--run', runDir, '--json'])).stdout) as { endpoints: Array<{ endpoint: string; ok: number }> };
    assert.deepEqual(json.endpoints.map((e) => e.ok).sort(), [a.requests.length, b.requests.length].sort());
  } finally {
    await a.close();
    await b.close();
  }
});

/** A pool over fake servers, with what it reported: each refusal, and the endpoints each request was sent to. */
function poolOf(endpoints: Array<Partial<PoolEndpointOptions> & { baseURL: string }>) {
  const refused: Array<{ endpoint: string; err: ApiError }> = [];
  const pool = new EndpointPool(
    endpoints.map((e) => ({ model: 'test-model', apiKey: undefined, weight: 1, concurrency: 4, ...e })),
    {
      gate: { pauseAfterFailures: 5, pauseMs: 50, maxPauses: 2 },
      timeoutMs: 5000,
      maxRetries: 1,
      prices: {},
      onTransport: () => {},
      onRefused: (endpoint, err) => refused.push({ endpoint, err }),
    },
  );
  const send = (n: number) =>
    Promise.all(
      Array.from({ length: n }, () => {
        const routes: string[] = [];
        return pool.complete({ messages: [{ role: 'user', content: 'Write 2 tasks.' }] }, (endpoint) => routes.push(endpoint)).then((r) => ({ ...r, routes }));
      }),
    );
  return { pool, refused, send };
}

const always = (b: Behaviour) => () => b;

test('an endpoint that answers 401 is left out of the pool: every request is answered by the other, none counted failed', async () => {
  const good = await startFakeServer({ latencyMs: 10 });
  const bad = await startFakeServer({ latencyMs: 10, behave: always({ kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided' } } }) });
  try {
    const { pool, refused, send } = poolOf([{ baseURL: bad.url }, { baseURL: good.url }]);
    const results = await send(24);
    assert.ok(results.every((r) => r.endpoint === good.url), 'each answer names the endpoint that answered');
    assert.equal(good.requests.length, 24);
    assert.ok(bad.requests.length >= 1 && bad.requests.length <= 4, `the refusing endpoint got ${bad.requests.length} requests: those sent before it refused`);
    assert.ok(results.some((r) => r.routes.length === 2 && r.routes[0] === bad.url && r.routes[1] === good.url), 'a refused request is routed again, to the other endpoint');
    assert.equal(refused.length, 1, 'the refusal is reported once');
    assert.equal(refused[0]!.endpoint, bad.url);
    assert.equal(refused[0]!.err.status, 401);
    assert.match(refused[0]!.err.message, /authentication failed \(401\): (401 )?Incorrect API key provided/);
    assert.deepEqual(
      pool.status().map((e) => [e.endpoint, e.state, e.ok, e.failed, e.inFlight]),
      [
        [bad.url, 'refused', 0, 0, 0],
        [good.url, 'up', 24, 0, 0],
      ],
    );
  } finally {
    await good.close();
    await bad.close();
  }
});

test('a model one endpoint does not serve (404) leaves that endpoint out the same way', async () => {
  const a = await startFakeServer({ latencyMs: 5, behave: (_n, body) => (body.model === 'missing-model' ? { kind: 'status', status: 404, body: { error: { message: 'The model `missing-model` does not exist' } } } : { kind: 'ok' }) });
  const b = await startFakeServer({ latencyMs: 5 });
  try {
    const { pool, refused, send } = poolOf([{ baseURL: a.url, model: 'missing-model' }, { baseURL: b.url }]);
    const results = await send(12);
    assert.ok(results.every((r) => r.endpoint === b.url && r.model === 'test-model'));
    assert.deepEqual(refused.map((r) => [r.endpoint, r.err.status]), [[a.url, 404]]);
    assert.deepEqual(pool.status().map((e) => [e.state, e.failed]), [['refused', 0], ['up', 0]]);
  } finally {
    await a.close();
    await b.close();
  }
});

test('an endpoint that cannot be reached at all (nothing listening) is left out the same way', async () => {
  const good = await startFakeServer({ latencyMs: 5 });
  // A port that was just listening and is now closed: connections are refused.
  const gone = await startFakeServer();
  const goneUrl = gone.url;
  await gone.close();
  try {
    const { pool, refused, send } = poolOf([{ baseURL: goneUrl }, { baseURL: good.url }]);
    const results = await send(8);
    assert.ok(results.every((r) => r.endpoint === good.url));
    assert.deepEqual(refused.map((r) => r.endpoint), [goneUrl]);
    assert.match(refused[0]!.err.message, /cannot reach/);
    assert.deepEqual(pool.status().map((e) => [e.state, e.failed]), [['refused', 0], ['up', 0]]);
  } finally {
    await good.close();
  }
});

test('when every endpoint of the pool refuses, the last refusal is thrown as with one endpoint', async () => {
  const refuse = always({ kind: 'status', status: 401 });
  const a = await startFakeServer({ behave: refuse });
  const b = await startFakeServer({ behave: refuse });
  try {
    const { refused, send } = poolOf([{ baseURL: a.url }, { baseURL: b.url }]);
    await assert.rejects(send(6), (err: unknown) => err instanceof ApiError && err.status === 401);
    assert.equal(refused.length, 1, 'the first one to refuse is left out; the last one left stops the run');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a one-endpoint pool throws a refusal at once and counts it failed, as before pools', async () => {
  const only = await startFakeServer({ behave: always({ kind: 'status', status: 403 }) });
  try {
    const { pool, refused, send } = poolOf([{ baseURL: only.url }]);
    await assert.rejects(send(1), (err: unknown) => err instanceof ApiError && err.status === 403);
    assert.equal(only.requests.length, 1);
    assert.equal(refused.length, 0);
    assert.deepEqual(pool.status().map((e) => [e.state, e.failed]), [['up', 1]]);
  } finally {
    await only.close();
  }
});

/** Every byte a run left in its directory (run.db, its WAL, the lock), as latin1 text. */
function runDirBytes(runDir: string): string {
  return readdirSync(runDir)
    .map((f) => readFileSync(join(runDir, f)).toString('latin1'))
    .join('\n');
}

test('generate: a pool endpoint with a wrong key is left out with a warning naming it, the run reaches its target, the key is nowhere', async () => {
  // Not sk-shaped: only redaction of the configured value can catch it; the server echoes it in its 401.
  const wrongKey = 'wrong-LEAKCHECK-5a4b3c2d1e0f';
  const good = await startFakeServer({ latencyMs: 5 });
  const bad = await startFakeServer({ latencyMs: 5, behave: always({ kind: 'echo-key', status: 401 }) });
  const servers: FakeServer[] = [good, bad];
  try {
    for (const json of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), 'forge-pool-refused-'));
      const runDir = join(dir, 'run');
      const configPath = join(dir, 'forge.yaml');
      writeFileSync(
        configPath,
        `generation:\n  model: m\n  concurrency: 4\n  endpoints:\n    - { baseUrl: ${good.url}, apiKeyEnv: GOOD_KEY }\n    - { baseUrl: ${bad.url}, apiKeyEnv: BAD_KEY }\n`,
      );
      const before = bad.authHeaders.length;
      const r = await runCli(['generate', '--run', runDir, '--config', configPath, '--target', '60', ...(json ? ['--json'] : [])], { cwd: dir, env: { GOOD_KEY: 'good-key-0123456789', BAD_KEY: wrongKey } });
      const what = json ? '--json' : 'text';
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.equal(bad.authHeaders[before], `Bearer ${wrongKey}`, 'the wrong key was sent, so the server had it to echo');
      const out = r.stdout + r.stderr;
      assert.match(out, /target reached: 60 kept samples/);
      const warnings = json
        ? r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as GenerateEvent).filter((e): e is Extract<GenerateEvent, { type: 'warning' }> => e.type === 'warning').map((e) => e.message)
        : out.split('\n').filter((l) => l.startsWith('warning: '));
      assert.equal(warnings.length, 1, `${what}: ${warnings.join('\n')}`);
      assert.ok(warnings[0]!.includes(`endpoint ${bad.url} left out of the run`), warnings[0]);
      assert.equal(warnings[0]!.split(bad.url).length, 2, `the endpoint is named once: ${warnings[0]}`);
      assert.match(warnings[0]!, /authentication failed \(401\): (401 )?Incorrect API key provided: \[redacted\]/);
      assert.match(warnings[0]!, /set \$BAD_KEY to a key this endpoint accepts/);
      for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['run directory', runDirBytes(runDir)]] as const) {
        assert.ok(!text.includes(wrongKey.slice(-12)), `${what}: the key is in ${where}`);
      }
      const store = RunStore.open(runDir);
      const s = store.summary();
      const tallies = store.endpointTallies();
      store.close();
      assert.equal(s.requests.failed, 0, 'no request failed: the refused ones were answered by the other endpoint');
      assert.deepEqual(tallies.map((t) => [t.endpoint, t.ok, t.failed]), [[good.url, s.requests.ok, 0]], 'each request records the endpoint that answered');
    }
  } finally {
    for (const s of servers) await s.close();
  }
});
