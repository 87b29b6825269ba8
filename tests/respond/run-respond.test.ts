import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { loadRespondPrompt, renderRespondPrompt } from '../../src/respond/respond-prompt.js';
import { runRespond, type RespondEvent, type RespondSettings } from '../../src/respond/run-respond.js';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore } from '../../src/store/responses.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { makeRun } from '../ui/run-fixture.js';
import { ApiError, ConfigError } from '../../src/errors.js';

const settings = (over: Partial<RespondSettings> = {}): RespondSettings => ({
  responses: 3,
  models: ['m1'],
  temperature: 0.7,
  topP: 1,
  maxTokens: 100,
  status: 'kept',
  concurrency: 4,
  budgetUsd: null,
  prompt: 'respond',
  ...over,
});

function config(baseUrl: string, extra: Record<string, unknown> = {}) {
  return forgeConfigSchema.parse({ generation: { baseUrl, maxRetries: 1, pauseAfterFailures: 50 }, prices: { m1: { input: 1, output: 2 } }, ...extra });
}

const fixture = () =>
  makeRun([
    { instruction: 'Name a colour.', output: 'Red.' },
    { instruction: 'Sort these.', input: '3, 1, 2', output: '1, 2, 3' },
    { instruction: 'Rejected one.', output: 'x', status: 'rejected', reason: 'too-short' },
  ]);

test('the respond prompt shows the input section only when there is an input', () => {
  const p = loadRespondPrompt('respond', 'en');
  const without = renderRespondPrompt(p, { instruction: 'Name a colour.', input: '' });
  assert.match(without, /Task:\nName a colour\.$/);
  assert.doesNotMatch(without, /Input/);
  const withInput = renderRespondPrompt(p, { instruction: 'Sort these {{input}}.', input: '3, 1, 2' });
  assert.match(withInput, /Task:\nSort these \{\{input\}\}\.\n\nInput:\n3, 1, 2$/);
  assert.match(renderRespondPrompt(loadRespondPrompt('respond', 'zh'), { instruction: '排序', input: '3, 1' }), /输入：\n3, 1$/);
});

test('respond stores K responses per kept sample with model, sampling, tokens and cost; a re-run asks nothing more', async () => {
  const server = await startFakeServer({ answers: 'text' });
  const { dir, store, ids } = fixture();
  store.close();
  try {
    const events: RespondEvent[] = [];
    const out = await runRespond({ runDir: dir, config: config(server.url), settings: settings(), signal: new AbortController().signal, onEvent: (e) => events.push(e) });
    assert.equal(out.reason, 'done');
    assert.equal(out.filled, 6);
    assert.equal(server.requests.length, 4, 'two new responses for each of the two kept samples');
    assert.ok(server.requests.every((r) => r.temperature === 0.7 && r.max_tokens === 100 && r.model === 'm1'));
    const s = RunStore.open(dir);
    const rs = new ResponseStore(s).listResponses();
    assert.deepEqual(rs.map((r) => [r.itemId, r.idx, r.source]), [
      [ids[0], 0, 'sample'],
      [ids[0], 1, 'model'],
      [ids[0], 2, 'model'],
      [ids[1], 0, 'sample'],
      [ids[1], 1, 'model'],
      [ids[1], 2, 'model'],
    ]);
    assert.equal(rs[0]!.text, 'Red.');
    assert.deepEqual(rs.map((r) => r.endpoint), [null, server.url, server.url, null, server.url, server.url], 'each new response names its endpoint');
    const m = rs[1]!;
    assert.deepEqual(m.sampling, { temperature: 0.7, topP: 1, maxTokens: 100, seed: null });
    assert.ok(m.promptTokens > 0 && m.completionTokens > 0);
    assert.equal(m.costUsd, (m.promptTokens * 1 + m.completionTokens * 2) / 1e6);
    s.close();

    const again = await runRespond({ runDir: dir, config: config(server.url), settings: settings(), signal: new AbortController().signal, onEvent: () => {} });
    assert.equal(again.filled, 6);
    assert.equal(server.requests.length, 4, 'nothing asked twice');
  } finally {
    await server.close();
  }
});

test('a response that fails every retry is recorded and asked again on the next run', async () => {
  let fail = true;
  const server = await startFakeServer({ answers: 'text', behave: (n) => (fail && n === 0 ? { kind: 'status', status: 500 } : { kind: 'ok' }) });
  const { dir, store } = fixture();
  store.close();
  try {
    const cfg = forgeConfigSchema.parse({ generation: { baseUrl: server.url, maxRetries: 0, pauseAfterFailures: 50 } });
    const first = await runRespond({ runDir: dir, config: cfg, settings: settings({ concurrency: 1 }), signal: new AbortController().signal, onEvent: () => {} });
    assert.equal(first.filled, 5);
    assert.match(first.message, /failed every retry/);
    fail = false;
    const second = await runRespond({ runDir: dir, config: cfg, settings: settings({ concurrency: 1 }), signal: new AbortController().signal, onEvent: () => {} });
    assert.equal(second.filled, 6);
    const s = RunStore.open(dir);
    assert.equal(new ResponseStore(s).counts().failed, 1, 'the failed attempt stays as history');
    s.close();
  } finally {
    await server.close();
  }
});

test('respond stops before the budget would be exceeded, and refuses a budget without prices', async () => {
  const server = await startFakeServer({ answers: 'text' });
  const { dir, store } = fixture();
  store.close();
  try {
    // Each request reserves its worst case: ~prompt/2 tokens at $1/M plus 100 max tokens at $2/M ≈ $0.0003.
    const out = await runRespond({ runDir: dir, config: config(server.url), settings: settings({ budgetUsd: 0.0005, concurrency: 1 }), signal: new AbortController().signal, onEvent: () => {} });
    assert.equal(out.reason, 'budget');
    assert.ok(out.filled < 6 && out.filled >= 3, `filled ${out.filled}`);
    const s = RunStore.open(dir);
    assert.ok(new ResponseStore(s).counts().costUsd <= 0.0005);
    s.close();
    await assert.rejects(
      runRespond({ runDir: dir, config: config(server.url), settings: settings({ budgetUsd: 1, models: ['no-price'] }), signal: new AbortController().signal, onEvent: () => {} }),
      (e: Error) => e instanceof ConfigError && /no-price/.test(e.message),
    );
  } finally {
    await server.close();
  }
});

test('a fatal API error (401) stops respond with the API error; nothing stays in flight', async () => {
  const server = await startFakeServer({ behave: () => ({ kind: 'status', status: 401 }) });
  const { dir, store } = fixture();
  store.close();
  try {
    await assert.rejects(runRespond({ runDir: dir, config: config(server.url), settings: settings(), signal: new AbortController().signal, onEvent: () => {} }), (e: Error) => e instanceof ApiError && /401/.test(e.message));
    const s = RunStore.open(dir);
    assert.equal(new ResponseStore(s).counts().inFlight, 0);
    s.close();
  } finally {
    await server.close();
  }
});

test('Ctrl-C stops respond: answers in flight are abandoned, not counted, and the next run fills exactly the rest', async () => {
  const server = await startFakeServer({ answers: 'text', latencyMs: 80 });
  const { dir, store } = makeRun(Array.from({ length: 8 }, (_, i) => ({ instruction: `Task ${i}.`, output: `Answer ${i}.` })));
  store.close();
  try {
    const controller = new AbortController();
    const events: RespondEvent[] = [];
    const pending = runRespond({ runDir: dir, config: config(server.url), settings: settings({ responses: 4, concurrency: 3 }), signal: controller.signal, onEvent: (e) => events.push(e), progressIntervalMs: 20 });
    await new Promise((r) => setTimeout(r, 200));
    controller.abort(new Error('SIGINT'));
    const out = await pending;
    assert.equal(out.reason, 'interrupted');
    assert.ok(out.filled < 32);
    const s = RunStore.open(dir);
    const c = new ResponseStore(s).counts();
    s.close();
    assert.equal(c.inFlight, 0);
    assert.ok(c.abandoned > 0, 'the stop caught answers in flight');
    assert.equal(c.ok, out.filled);
    // The server shares this process: requests the stopped run had already written may be read a moment later.
    await new Promise((r) => setTimeout(r, 200));
    const sentBefore = server.requests.length;
    const again = await runRespond({ runDir: dir, config: config(server.url), settings: settings({ responses: 4, concurrency: 3 }), signal: new AbortController().signal, onEvent: () => {} });
    assert.equal(again.filled, 32);
    assert.equal(server.requests.length - sentBefore, 32 - c.ok, 'the next run asks only for the empty slots');
  } finally {
    await server.close();
  }
});

test('many requests in flight do not pile listeners on one abort signal (no MaxListenersExceededWarning)', async () => {
  const server = await startFakeServer({ answers: 'text', latencyMs: 30 });
  const { dir, store } = makeRun(Array.from({ length: 10 }, (_, i) => ({ instruction: `Task ${i}.`, output: `Answer ${i}.` })));
  store.close();
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const out = await runRespond({ runDir: dir, config: config(server.url), settings: settings({ responses: 4, concurrency: 24 }), signal: new AbortController().signal, onEvent: () => {} });
    assert.equal(out.filled, 40);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
  } finally {
    process.off('warning', onWarning);
    await server.close();
  }
});

test('a response cut off at --max-tokens (finish_reason length) is stored as failed with its text, not filled, and asked again on a re-run', async () => {
  const server = await startFakeServer({ answers: 'text', behave: (n) => ({ kind: 'ok', text: `answer ${n}`, finishReason: n === 1 ? 'length' : 'stop' }) });
  const { dir, store } = fixture();
  store.close();
  try {
    const signal = new AbortController().signal;
    const out = await runRespond({ runDir: dir, config: config(server.url), settings: settings({ concurrency: 1 }), signal, onEvent: () => {} });
    assert.equal(out.filled, 5, 'six slots, one of them cut off');
    assert.match(out.message, /1 cut off at --max-tokens 100/);
    const s = RunStore.open(dir);
    const failed = new ResponseStore(s).listResponses({ status: ['failed'] });
    s.close();
    assert.equal(failed.length, 1);
    assert.deepEqual([failed[0]!.text, failed[0]!.finishReason], ['answer 1', 'length']);
    assert.match(failed[0]!.error ?? '', /truncated at --max-tokens 100/);
    const again = await runRespond({ runDir: dir, config: config(server.url), settings: settings(), signal, onEvent: () => {} });
    assert.equal(again.filled, 6);
    assert.equal(server.requests.length, 5, 'only the cut-off slot was asked again');
  } finally {
    await server.close();
  }
});
