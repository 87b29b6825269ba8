import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatClient } from '../../src/llm/chat-client.js';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { startFakeServer, type FakeServer } from '../helpers/fake-openai-server.js';

const OPENAI = 'https://api.openai.com/v1';

/** Sends what the SDK addresses to OpenAI's API to the fake server instead (the SDK takes globalThis.fetch when it is made). */
async function viaOpenAiHost<T>(server: FakeServer, fn: () => Promise<T>): Promise<T> {
  const real = globalThis.fetch;
  globalThis.fetch = ((url: string | URL | Request, init?: RequestInit) => real(String(url instanceof Request ? url.url : url).replace(OPENAI, server.url), init)) as typeof fetch;
  try {
    return await fn();
  } finally {
    globalThis.fetch = real;
  }
}

const limits = (b: object) => ({ max_tokens: (b as { max_tokens?: number }).max_tokens, max_completion_tokens: (b as { max_completion_tokens?: number }).max_completion_tokens });

test("a chat request's token limit is max_completion_tokens at OpenAI's API and max_tokens elsewhere", async () => {
  const server = await startFakeServer();
  try {
    const req = { messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 77 };
    await viaOpenAiHost(server, () => new ChatClient({ baseURL: OPENAI, apiKey: 'sk-test', model: 'o4-mini' }).complete(req));
    await new ChatClient({ baseURL: server.url, model: 'served-model' }).complete(req);
    assert.deepEqual(server.requests.map(limits), [
      { max_tokens: undefined, max_completion_tokens: 77 },
      { max_tokens: 77, max_completion_tokens: undefined },
    ]);
  } finally {
    await server.close();
  }
});

test("batch bodies: max_completion_tokens through OpenAI's Batch API, max_tokens in a file for vLLM's run_batch", async () => {
  const server = await startFakeServer();
  const dir = mkdtempSync(join(tmpdir(), 'forge-limit-'));
  try {
    const generation = { model: 'o4-mini', target: 20, seed: 1, maxTokens: 900, batch: { maxRequests: 2, pollSeconds: 0.02, maxPollSeconds: 0.05 } };
    const signal = new AbortController().signal;
    await viaOpenAiHost(server, () =>
      runGeneration({ runDir: join(dir, 'api'), config: forgeConfigSchema.parse({ generation: { ...generation, baseUrl: OPENAI, mode: 'batch' } }), apiKey: 'sk-test', signal, onEvent: () => {} }),
    );
    const uploaded = [...server.batchApi.files.values()].filter((f) => f.purpose === 'batch');
    assert.ok(uploaded.length > 0);
    for (const f of uploaded) for (const l of f.content.trim().split('\n')) assert.deepEqual(limits((JSON.parse(l) as { body: object }).body), { max_tokens: undefined, max_completion_tokens: 900 });

    const file = join(dir, 'in.jsonl');
    await runGeneration({ runDir: join(dir, 'file'), config: forgeConfigSchema.parse({ generation: { ...generation, baseUrl: OPENAI } }), signal, batch: { kind: 'emit', file }, onEvent: () => {} });
    for (const l of readFileSync(file, 'utf8').trim().split('\n')) assert.deepEqual(limits((JSON.parse(l) as { body: object }).body), { max_tokens: 900, max_completion_tokens: undefined });
  } finally {
    await server.close();
  }
});
