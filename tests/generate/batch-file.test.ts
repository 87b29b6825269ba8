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

test("vLLM run_batch's error shapes are failed lines with their message, never a refused file", () => {
  const ok = { id: 'vllm-1', custom_id: 't-1', response: { status_code: 200, request_id: 'r1', body: { choices: [{ message: { content: 'x' }, finish_reason: 'stop' }] } }, error: null };
  // make_error_request_output: status 400, no body, the error a plain string.
  const plain = { id: 'vllm-2', custom_id: 't-2', response: { status_code: 400, request_id: 'r2', body: null }, error: 'Request must not be sent in stream mode' };
  // An ErrorResponse as newer vLLM writes it: nested {error: {message, type, code}}.
  const nested = { id: 'vllm-3', custom_id: 't-3', response: { status_code: 400, request_id: 'r3', body: null }, error: { error: { message: 'maximum context length is 4096 tokens', type: 'BadRequestError', param: null, code: 400 } } };
  // Older vLLM: the ErrorResponse flat, its code a number.
  const flatCode = { id: 'vllm-4', custom_id: 't-4', response: { status_code: 400, request_id: 'r4', body: null }, error: { object: 'error', message: 'unknown model', type: 'NotFoundError', code: 404 } };
  const codeOnly = { id: 'vllm-5', custom_id: 't-5', response: null, error: { code: 400 } };
  const odd = { id: 'vllm-6', custom_id: 't-6', response: null, error: 42 };
  const out = parseBatchOutput([ok, plain, nested, flatCode, codeOnly, odd].map((l) => JSON.stringify(l)).join('\n'), 'vllm.jsonl');
  assert.deepEqual(out, [
    { customId: 't-1', ok: true, text: 'x', finishReason: 'stop', promptTokens: 0, completionTokens: 0 },
    { customId: 't-2', ok: false, error: 'Request must not be sent in stream mode' },
    { customId: 't-3', ok: false, error: '400: maximum context length is 4096 tokens' },
    { customId: 't-4', ok: false, error: '404: unknown model' },
    { customId: 't-5', ok: false, error: '400: no message' },
    { customId: 't-6', ok: false, error: '42' },
  ]);
});
