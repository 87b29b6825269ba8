import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient } from '../../src/llm/chat-client.js';
import { BudgetTracker } from '../../src/llm/budget.js';
import { EndpointGate, EndpointDownError } from '../../src/llm/endpoint-gate.js';
import { backoffMs, parseDuration, waitHintFromHeaders } from '../../src/llm/retry-policy.js';
import { ApiError } from '../../src/errors.js';
import type { TransportState } from '../../src/events.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

const msg = [{ role: 'user' as const, content: 'Say hi as a JSON array of 1 task.' }];
const prices = { m: { input: 1, output: 2 } };

test('parses rate-limit reset durations and Retry-After in all its forms', () => {
  assert.equal(parseDuration('1s'), 1000);
  assert.equal(parseDuration('6m0s'), 360_000);
  assert.equal(parseDuration('20ms'), 20);
  assert.equal(parseDuration('1h2m3.5s'), 3_723_500);
  assert.equal(parseDuration('soon'), null);
  assert.equal(waitHintFromHeaders(new Headers({ 'retry-after': '2' })), 2000);
  assert.equal(waitHintFromHeaders(new Headers({ 'retry-after-ms': '150' })), 150);
  assert.equal(waitHintFromHeaders(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000), 6_000);
  assert.equal(waitHintFromHeaders(new Headers({ 'x-ratelimit-reset-requests': '1s', 'x-ratelimit-reset-tokens': '250ms' })), 1000);
  assert.equal(waitHintFromHeaders(new Headers({})), null);
});

test('backoff grows exponentially, stays within its jitter band and under the cap', () => {
  for (let a = 0; a < 12; a++) {
    const ceiling = Math.min(60_000, 500 * 2 ** a);
    assert.equal(backoffMs(a, () => 0), ceiling / 2);
    assert.equal(backoffMs(a, () => 0.999999), Math.round(ceiling / 2 + (0.999999 * ceiling) / 2));
  }
});

test('429 with Retry-After is retried after the server-given wait, and usage/cost are accounted', async () => {
  const server = await startFakeServer({
    behave: (n) => (n === 0 ? { kind: 'status', status: 429, headers: { 'retry-after-ms': '300' } } : { kind: 'ok', text: 'hello', usage: { prompt_tokens: 1000, completion_tokens: 500 } }),
  });
  const events: TransportState[] = [];
  try {
    const client = new ChatClient({ baseURL: server.url, apiKey: 'sk-test', model: 'm', prices, onTransport: (e) => events.push(e) });
    const t0 = Date.now();
    const r = await client.complete({ messages: msg });
    assert.ok(Date.now() - t0 >= 290, 'waited for Retry-After');
    assert.equal(r.text, 'hello');
    assert.equal(r.promptTokens, 1000);
    assert.equal(r.completionTokens, 500);
    assert.equal(r.costUsd, (1000 * 1 + 500 * 2) / 1e6);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(events[0], { state: 'backoff', reason: 'rate limited (429)', waitMs: 300, attempt: 1 });
    assert.equal(server.authHeaders[0], 'Bearer sk-test');
  } finally {
    await server.close();
  }
});

test('5xx and a hung connection (timeout) are retried until an answer comes', async () => {
  const server = await startFakeServer({
    behave: (n) => (n === 0 ? { kind: 'status', status: 503 } : n === 1 ? { kind: 'hang' } : { kind: 'ok', text: 'fine' }),
  });
  try {
    const client = new ChatClient({ baseURL: server.url, model: 'm', timeoutMs: 300, random: () => 0 });
    const r = await client.complete({ messages: msg });
    assert.equal(r.text, 'fine');
    assert.equal(server.requests.length, 3);
  } finally {
    await server.close();
  }
});

test('401 and an unknown model (404/400) stop at once with a clear, key-free message', async () => {
  for (const status of [401, 404, 400]) {
    const server = await startFakeServer({ behave: () => ({ kind: 'status', status, body: { error: { message: `scripted ${status}` } } }) });
    try {
      const client = new ChatClient({ baseURL: server.url, apiKey: 'sk-secret-value', model: 'nope' });
      await assert.rejects(client.complete({ messages: msg }), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.status, status);
        assert.ok(!e.message.includes('sk-secret-value') && !(e.hint ?? '').includes('sk-secret-value'));
        assert.match(e.hint ?? '', status === 401 ? /API key/ : /--model/);
        return true;
      });
      assert.equal(server.requests.length, 1, `no retry on ${status}`);
    } finally {
      await server.close();
    }
  }
});

test('a key in the base URL (user:password or a query) never reaches an error message', async () => {
  const server = await startFakeServer({ behave: () => ({ kind: 'status', status: 401, body: { error: { message: 'no' } } }) });
  try {
    const u = new URL(server.url);
    // fetch refuses the first outright (its error quotes the URL); the second reaches the server.
    for (const baseURL of [`${u.protocol}//user:pw-secret-in-url@${u.host}${u.pathname}`, `${server.url}?api_key=q-secret-in-url`]) {
      const client = new ChatClient({ baseURL, apiKey: 'x', model: 'm', maxRetries: 0 });
      await assert.rejects(client.complete({ messages: msg }), (e: unknown) => {
        assert.ok(e instanceof Error);
        const text = `${e.message} ${(e as { hint?: string }).hint ?? ''}`;
        assert.ok(!/secret-in-url/.test(text), text);
        assert.match(text, new RegExp(u.host));
        return true;
      });
    }
  } finally {
    await server.close();
  }
});

test('an endpoint that answers garbage is retried and then reported as failed', async () => {
  const server = await startFakeServer({ behave: () => ({ kind: 'raw', body: '{"hello": "world"}' }) });
  try {
    const client = new ChatClient({ baseURL: server.url, model: 'm', maxRetries: 2, random: () => 0 });
    await assert.rejects(client.complete({ messages: msg }), /not a chat completion/);
    assert.equal(server.requests.length, 3);
  } finally {
    await server.close();
  }
});

test('the gate pauses everyone after repeated failures, probes with one request, and gives up after maxPauses', async () => {
  const states: TransportState[] = [];
  const gate = new EndpointGate({ pauseAfterFailures: 2, pauseMs: 50, maxPauses: 2, onState: (s) => states.push(s) });
  gate.failure('boom');
  await gate.wait();
  gate.failure('boom');
  assert.equal(states.at(-1)?.state, 'paused');
  const t0 = Date.now();
  // Two callers after the pause: the first is the probe, the second waits for the probe's outcome.
  await gate.wait();
  assert.ok(Date.now() - t0 >= 45);
  let secondThrough = false;
  const second = gate.wait().then(() => (secondThrough = true));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(secondThrough, false, 'others wait while the probe is out');
  gate.success();
  await second;
  assert.equal(states.at(-1)?.state, 'ok');
  gate.failure('x');
  gate.failure('x');
  gate.failure('x');
  gate.failure('x');
  assert.throws(() => {
    for (let i = 0; i < 10; i++) gate.failure('down');
  }, EndpointDownError);
});

test('the budget reserves worst cases so that in-flight requests cannot push spending over the limit', () => {
  const b = new BudgetTracker(1.0, 0.5);
  assert.equal(b.wouldExceed(0.3), false);
  b.reserve(0.3);
  assert.equal(b.wouldExceed(0.3), true, '0.5 spent + 0.3 reserved + 0.3 > 1.0');
  b.settle(0.3, 0.1);
  assert.equal(b.spentUsd, 0.6);
  assert.equal(b.wouldExceed(0.3), false);
  assert.equal(new BudgetTracker(undefined, 100).wouldExceed(1e9), false);
});
