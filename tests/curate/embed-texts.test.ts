import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embedTexts } from '../../src/curate/embed-texts.js';
import { generationConfigSchema } from '../../src/config/generation.js';
import { BudgetTracker } from '../../src/llm/budget.js';
import { embeddingsFromPool } from '../../src/llm/embeddings-client.js';
import { poolFromConfig } from '../../src/llm/pool-from-config.js';
import { EmbeddingCache, textHash } from '../../src/store/embedding-cache.js';
import { ForgeError } from '../../src/errors.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { fakeEmbedding } from '../helpers/fake-embeddings.js';

const g = generationConfigSchema.parse({ maxRetries: 2 });

function poolOf(urls: string[], prices = {}) {
  const endpoints = urls.map((baseURL) => ({ baseURL, model: 'embed-test', apiKey: 'sk-test', weight: 1, concurrency: 2 }));
  const pool = poolFromConfig(g, endpoints, { prices, onTransport: () => {}, onWarning: () => {} });
  return { pool, client: embeddingsFromPool(pool, 'embed-test') };
}

const close = (a: Float32Array, b: number[]) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-6);

test('embeddings go through a pool: both endpoints serve batches, a 503 is retried, vectors keep the texts’ order', async () => {
  const a = await startFakeServer({ embeddingStatus: (n) => (n === 0 ? 503 : null), embeddingLatencyMs: 20 });
  const b = await startFakeServer({ embeddingLatencyMs: 20 });
  try {
    const texts = Array.from({ length: 24 }, (_, i) => `Write a note about topic ${i}.`);
    const { pool, client } = poolOf([a.url, b.url]);
    const vectors = await embedTexts([...texts, texts[3]!], { client, cache: null, batchSize: 3, concurrency: pool.capacity });
    assert.equal(vectors.length, 25);
    vectors.forEach((v, i) => assert.ok(close(v, fakeEmbedding(i === 24 ? texts[3]! : texts[i]!)), `vector ${i}`));
    assert.ok(a.embeddingRequests.length > 0 && b.embeddingRequests.length > 0, `a ${a.embeddingRequests.length}, b ${b.embeddingRequests.length}`);
    // Each text once, the failed request's batch sent again.
    assert.deepEqual([...a.embeddingRequests.flat(), ...b.embeddingRequests.flat()].sort(), [...texts].sort());
    assert.deepEqual(pool.status().map((s) => s.state), ['up', 'up']);
  } finally {
    await a.close();
    await b.close();
  }
});

test('the budget stops embeddings before it is exceeded, with a budget error; a re-run sends only what is not cached', async () => {
  const server = await startFakeServer();
  try {
    const { cache, close: closeCache } = EmbeddingCache.openFile(join(mkdtempSync(join(tmpdir(), 'forge-embed-')), 'cache.db'));
    // 4-character texts: a batch of 2 reserves 4 prompt tokens ($0.04 at $10,000/M) and costs the 2 the fake reports ($0.02).
    const texts = Array.from({ length: 8 }, (_, i) => `t${String(i).padStart(3, '0')}`);
    const prices = { 'embed-test': { input: 10_000, output: 0 } };
    const { client } = poolOf([server.url], prices);
    const budget = new BudgetTracker(0.07, 0);
    await assert.rejects(embedTexts(texts, { client, cache, batchSize: 2, concurrency: 1, budget, prices }), (e: unknown) => {
      assert.ok(e instanceof ForgeError && e.code === 'budget', String(e));
      assert.match(e.message, /4 texts not embedded/);
      return true;
    });
    assert.ok(budget.spentUsd <= 0.07);
    assert.deepEqual(server.embeddingRequests.flat(), texts.slice(0, 4));
    const vectors = await embedTexts(texts, { client, cache, batchSize: 2, concurrency: 1, prices });
    assert.deepEqual(server.embeddingRequests.flat(), texts, 'the re-run sends only the 4 texts not cached');
    vectors.forEach((v, i) => assert.ok(close(v, fakeEmbedding(texts[i]!))));
    closeCache();
  } finally {
    await server.close();
  }
});

test('vectors of two lengths under one model name (a cache of another model, or a mixed pool) stop with one line naming both', async () => {
  const server = await startFakeServer();
  try {
    const { cache, close: closeCache } = EmbeddingCache.openFile(join(mkdtempSync(join(tmpdir(), 'forge-embed-')), 'cache.db'));
    const texts = ['Name a bird.', 'Name a tree.', 'Name a river.'];
    // A 384-dimension model once cached the first text under the name the 64-dimension server now serves.
    cache.put('embed-test', [{ hash: textHash(texts[0]!), vector: new Float32Array(384).fill(0.1) }]);
    const { client } = poolOf([server.url]);
    await assert.rejects(embedTexts(texts, { client, cache, batchSize: 2 }), (e: unknown) => {
      assert.ok(e instanceof ForgeError && e.code === 'api', String(e));
      assert.equal(e.message, 'embeddings embed-test: vectors of 384 and 64 dimensions under one model name; 1 of 3 came from the cache');
      assert.match(e.hint ?? '', /DELETE FROM embeddings WHERE model = 'embed-test'/);
      return true;
    });
    closeCache();
  } finally {
    await server.close();
  }
});
