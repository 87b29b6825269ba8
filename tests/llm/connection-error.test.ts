import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { explainConnectionError } from '../../src/llm/connection-error.js';
import { ChatClient, EndpointUnreachableError, RetriesExhaustedError } from '../../src/llm/chat-client.js';
import { EndpointGate } from '../../src/llm/endpoint-gate.js';
import type { TransportState } from '../../src/events.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

const msg = [{ role: 'user' as const, content: 'hi' }];

/** The shape the SDK throws: APIConnectionError → fetch's TypeError → the socket error. */
const sdkError = (socket: unknown) => new OpenAI.APIConnectionError({ cause: Object.assign(new TypeError('fetch failed'), { cause: socket }) });
const sysError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

test('names the cause of a connection failure and where it happened', () => {
  const base = 'https://api.example.test/v1';
  assert.deepEqual(explainConnectionError(sdkError(sysError('connect ECONNREFUSED 10.0.0.5:8000', { code: 'ECONNREFUSED', address: '10.0.0.5', port: 8000 })), base), {
    reason: 'connection refused by 10.0.0.5:8000 (nothing is listening there)',
    unreachable: true,
  });
  // Happy eyeballs: one error per address, wrapped in an AggregateError.
  const both = Object.assign(new AggregateError([sysError('a', { code: 'ECONNREFUSED', address: '::1', port: 11434 }), sysError('b', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 11434 })]), { code: 'ECONNREFUSED' });
  assert.match(explainConnectionError(sdkError(both), 'http://localhost:11434/v1').reason, /^connection refused by \[::1\]:11434/);
  assert.match(explainConnectionError(sdkError(sysError('getaddrinfo EAI_AGAIN api.example.test', { code: 'EAI_AGAIN', hostname: 'api.example.test' })), base).reason, /DNS lookup of api\.example\.test failed/);
  const cert = explainConnectionError(sdkError(sysError('certificate has expired', { code: 'CERT_HAS_EXPIRED' })), base);
  assert.equal(cert.reason, 'TLS failure with api.example.test:443: certificate has expired (CERT_HAS_EXPIRED)');
  assert.equal(cert.unreachable, true);
  assert.match(cert.hint ?? '', /NODE_EXTRA_CA_CERTS/);
  assert.match(explainConnectionError(sdkError(sysError('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })), base).reason, /^TLS failure/);
  const reset = explainConnectionError(sdkError(sysError('read ECONNRESET', { code: 'ECONNRESET' })), 'http://10.1.1.1:9000/v1');
  assert.deepEqual(reset, { reason: 'connection to 10.1.1.1:9000 dropped (ECONNRESET)', unreachable: false }, 'a dropped connection is worth retrying as usual');
});

test('https against a plain-http server is a TLS failure that suggests http://', async () => {
  const server = await startFakeServer();
  try {
    const client = new ChatClient({ baseURL: server.url.replace('http://', 'https://'), model: 'm', random: () => 0 });
    await assert.rejects(client.complete({ messages: msg }), (e: unknown) => {
      assert.ok(e instanceof EndpointUnreachableError, String(e));
      assert.match(e.message, /TLS failure with 127\.0\.0\.1:\d+: .*try http:\/\//);
      assert.match(e.hint ?? '', /http:\/\/ versus https:\/\//);
      return true;
    });
  } finally {
    await server.close();
  }
});

test('an endpoint that has answered before is not given up on for refusing: the gate pauses as usual', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const states: TransportState[] = [];
  const gate = new EndpointGate({ pauseAfterFailures: 2, pauseMs: 20, maxPauses: 5, onState: (s) => states.push(s) });
  const dead = `http://127.0.0.1:${port}/v1`;

  const fresh = new ChatClient({ baseURL: dead, model: 'm', maxRetries: 6, gate, random: () => 0, onTransport: (s) => states.push(s) });
  await assert.rejects(fresh.complete({ messages: msg }), EndpointUnreachableError);
  assert.equal(states.filter((s) => s.state === 'backoff').length, 2, 'three attempts, two backoffs');
  assert.equal(states.filter((s) => s.state === 'paused').length, 0, 'no pause for an endpoint that never answered');

  gate.success();
  states.length = 0;
  const again = new ChatClient({ baseURL: dead, model: 'm', maxRetries: 4, gate, random: () => 0, onTransport: (s) => states.push(s) });
  await assert.rejects(again.complete({ messages: msg }), RetriesExhaustedError);
  assert.ok(states.some((s) => s.state === 'paused'), 'after a success, refusals go through the gate');
});
