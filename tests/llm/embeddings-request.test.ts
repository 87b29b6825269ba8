import { test } from 'node:test';
import assert from 'node:assert/strict';
import type OpenAI from 'openai';
import { onceEmbeddings } from '../../src/llm/embeddings-request.js';
import { InvalidResponseError } from '../../src/llm/retry-policy.js';

/** An SDK whose /v1/embeddings answers `body`, as a server answering garbage would. */
const answering = (body: unknown) => ({ embeddings: { create: async () => body } }) as unknown as OpenAI;
const item = (index: number, dim: number) => ({ index, embedding: Array.from({ length: dim }, (_, k) => (k + 1) / dim) });

test('an embeddings answer is read in the texts’ order, and one that is not a list of equal-length vectors is refused (so it is retried)', async () => {
  const ok = await onceEmbeddings(answering({ data: [item(1, 4), item(0, 4)], usage: { prompt_tokens: 7 } }), 'm', ['a', 'b'], undefined, undefined);
  assert.deepEqual(ok.vectors.map((v) => v.length), [4, 4]);
  assert.equal(ok.promptTokens, 7);
  for (const [body, why] of [
    [{ data: [item(0, 4), item(1, 3)] }, /vectors of 3 and 4 dimensions/],
    [{ data: [item(0, 0), item(1, 0)] }, /vectors of 0 dimensions/],
    [{ data: [item(0, 4)] }, /1 vectors for 2 texts/],
    [{ data: [item(0, 4), item(0, 4)] }, /skips index 1/],
    [{ data: [item(0, 4), item(2, 4)] }, /index 2 for 2 texts/],
    [{ object: 'error' }, /not an embeddings list \(data: /],
  ] as const) {
    await assert.rejects(onceEmbeddings(answering(body), 'm', ['a', 'b'], undefined, undefined), (e: unknown) => {
      assert.ok(e instanceof InvalidResponseError, String(e));
      assert.match(e.message, why);
      return true;
    });
  }
});
