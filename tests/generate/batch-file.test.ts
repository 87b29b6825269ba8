import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchInputLine, customIdFor, parseBatchOutput, requestIdFrom } from '../../src/generate/batch-file.js';

test('custom_id carries the run tag and request id, and refuses another run\'s', () => {
  assert.equal(customIdFor('ab12cd34', 17), 'ab12cd34-17');
  assert.equal(requestIdFrom('ab12cd34', 'ab12cd34-17'), 17);
  assert.equal(requestIdFrom('ab12cd34', 'ffff0000-17'), null);
  assert.equal(requestIdFrom('ab12cd34', 'ab12cd34-x'), null);
});

test('an input line is an OpenAI batch request', () => {
  const line = JSON.parse(batchInputLine('t-1', { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 1, top_p: 1, max_tokens: 10 })) as Record<string, unknown>;
  assert.deepEqual(Object.keys(line), ['custom_id', 'method', 'url', 'body']);
  assert.equal(line['url'], '/v1/chat/completions');
});

test('output lines: answers, HTTP errors and expired requests; a broken line names file and line', () => {
  const ok = { custom_id: 't-1', response: { status_code: 200, body: { choices: [{ message: { content: 'x' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 4 } } }, error: null };
  const http = { custom_id: 't-2', response: { status_code: 429, body: { error: { message: 'slow down' } } }, error: null };
  const expired = { custom_id: 't-3', response: null, error: { code: 'batch_expired', message: 'not run in time' } };
  const out = parseBatchOutput([ok, http, expired].map((l) => JSON.stringify(l)).join('\n') + '\n', 'out.jsonl');
  assert.deepEqual(out, [
    { customId: 't-1', ok: true, text: 'x', finishReason: 'stop', promptTokens: 3, completionTokens: 4 },
    { customId: 't-2', ok: false, error: 'HTTP 429: slow down' },
    { customId: 't-3', ok: false, error: 'batch_expired: not run in time' },
  ]);
  assert.throws(() => parseBatchOutput(`${JSON.stringify(ok)}\n{"custom_id": 3}\n`, 'out.jsonl'), /out\.jsonl:2: not a batch result \(custom_id:/);
  assert.throws(() => parseBatchOutput('{truncated', 'out.jsonl'), /out\.jsonl:1: not a JSON line/);
});
