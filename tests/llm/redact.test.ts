import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRedactor, REDACTED } from '../../src/llm/redact.js';
import { ChatClient, RetriesExhaustedError } from '../../src/llm/chat-client.js';
import { EndpointGate, EndpointDownError } from '../../src/llm/endpoint-gate.js';
import { ApiError } from '../../src/errors.js';
import type { TransportState } from '../../src/events.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

const msg = [{ role: 'user' as const, content: 'Say hi.' }];

test('the redactor removes the secret values, anything after Bearer, and sk-shaped tokens', () => {
  const redact = createRedactor(['gsk_custom_SECRET_42', undefined, 'abc']);
  assert.equal(redact('bad key gsk_custom_SECRET_42!'), `bad key ${REDACTED}!`);
  assert.equal(redact('Authorization: Bearer whatever-token-1; next'), `Authorization: Bearer ${REDACTED}; next`);
  assert.equal(redact('Incorrect API key provided: sk-proj-****abcd. See docs'), `Incorrect API key provided: ${REDACTED}. See docs`);
  assert.equal(redact('sk-abcdefgh1234'), REDACTED);
  // A dummy key of a few characters (local servers) is not a word to blank out of every message.
  assert.equal(redact('abc is fine'), 'abc is fine');
  assert.equal(redact('nothing secret here'), 'nothing secret here');
});

test('a key a server echoes in a 401, 400 or 404 appears in no error message or hint', async () => {
  const key = 'sk-live-0123456789abcdefSECRET';
  for (const status of [401, 400, 404]) {
    const server = await startFakeServer({ behave: () => ({ kind: 'echo-key', status }) });
    try {
      const client = new ChatClient({ baseURL: server.url, apiKey: key, model: 'm' });
      await assert.rejects(client.complete({ messages: msg }), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.match(e.message, /Incorrect API key provided: \[redacted\]/, 'the server\'s words are kept, less the key');
        assert.ok(!e.message.includes('0123456789abcdef') && !(e.hint ?? '').includes('0123456789abcdef'), e.message);
        return true;
      });
    } finally {
      await server.close();
    }
  }
});

test('a custom key echoed by a failing server is absent from transport events, the give-up error and the gate', async () => {
  const key = 'custom-provider-key-7f3a9b2c';
  const server = await startFakeServer({ behave: () => ({ kind: 'echo-key', status: 500 }) });
  const events: TransportState[] = [];
  try {
    // The SDK only exposes the body of a 5xx through its message: make it part of the reason.
    const gate = new EndpointGate({ pauseAfterFailures: 2, pauseMs: 10, maxPauses: 1, onState: (s) => events.push(s) });
    const client = new ChatClient({ baseURL: server.url, apiKey: key, model: 'm', maxRetries: 1, gate, random: () => 0, onTransport: (s) => events.push(s) });
    await assert.rejects(client.complete({ messages: msg }), RetriesExhaustedError);
    let down: unknown = null;
    try {
      for (let i = 0; i < 3; i++) await client.complete({ messages: msg }).catch((e: unknown) => { if (e instanceof EndpointDownError) throw e; });
    } catch (e) {
      down = e;
    }
    assert.ok(down instanceof EndpointDownError, 'the gate gave up');
    const text = JSON.stringify(events) + String((down as Error).message) + gate.reason;
    assert.ok(events.length > 0);
    assert.ok(!text.includes(key) && !text.includes('7f3a9b2c'), text);
    assert.equal(server.authHeaders[0], `Bearer ${key}`, 'the key was sent');
  } finally {
    await server.close();
  }
});

test('an answer that repeats the key is stored without it; Bearer and sk- text in an answer is left alone', async () => {
  const key = 'sk-answer-echo-0123456789';
  const server = await startFakeServer({ behave: () => ({ kind: 'ok', text: `your key is ${key}; curl -H "Authorization: Bearer sk-example-token"` }) });
  try {
    const r = await new ChatClient({ baseURL: server.url, apiKey: key, model: 'm' }).complete({ messages: msg });
    assert.equal(r.text, 'your key is [redacted]; curl -H "Authorization: Bearer sk-example-token"');
  } finally {
    await server.close();
  }
});
