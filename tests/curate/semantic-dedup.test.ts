import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { semanticDuplicates } from '../../src/curate/semantic-dedup.js';
import { keepOrder } from '../../src/curate/keep-order.js';
import { curateFile } from '../../src/curate/curate-file.js';
import { embedTexts } from '../../src/curate/embed-texts.js';
import { curationConfigSchema } from '../../src/config/curation.js';
import { generationConfigSchema } from '../../src/config/generation.js';
import { EmbeddingsClient } from '../../src/llm/embeddings-client.js';
import { EmbeddingCache } from '../../src/store/embedding-cache.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { fakeEmbedding } from '../helpers/fake-embeddings.js';
import { seededRandom } from '../../src/random.js';

const items = [
  { instruction: 'Write a short poem about the sea.', input: '', output: 'Waves.' },
  { instruction: 'Explain how vaccines train the immune system.', input: '', output: 'They show it a harmless copy of a germ.' },
  { instruction: 'Compose a brief poem about the ocean.', input: '', output: 'Blue water, endless and deep, rolling waves.' },
  { instruction: 'List three uses of copper.', input: '', output: 'Wires, pipes, coins.' },
  { instruction: 'About the sea, write a short poem.', input: '', output: 'Salt.' },
  { instruction: 'Describe how vaccines train the immune system.', input: '', output: 'A weakened germ teaches the body.' },
];
const vec = (t: string) => Float32Array.from(fakeEmbedding(t));

test('paraphrases are grouped and the keep rule picks the survivor; each removal names it and the cosine', () => {
  const vectors = items.map((i) => vec(i.instruction));
  const first = semanticDuplicates(vectors, keepOrder(items, 'first'), { threshold: 0.9 });
  assert.deepEqual(first.map((d) => d?.of ?? null), [null, null, 0, null, 0, 1]);
  assert.ok(first[2]!.cosine >= 0.9 && first[2]!.cosine <= 1);
  const longest = semanticDuplicates(vectors, keepOrder(items, 'longest'), { threshold: 0.9 });
  // The longest copy of the sea poem is item 2, of the vaccine task item 1.
  assert.deepEqual(longest.map((d) => d?.of ?? null), [2, null, null, null, 2, 1]);
});

test('the clustered path for large sets finds the same paraphrases as all pairs on well-separated groups', () => {
  const rnd = seededRandom(4);
  const d = 32;
  const centers = Array.from({ length: 200 }, () => Float32Array.from({ length: d }, () => rnd() - 0.5));
  const vectors: Float32Array[] = [];
  for (let i = 0; i < 3000; i++) {
    const c = centers[i % centers.length]!;
    vectors.push(Float32Array.from(c, (x) => x + (rnd() - 0.5) * 0.02));
  }
  const order = vectors.map((_, i) => i);
  const exact = semanticDuplicates(vectors, order, { threshold: 0.95 });
  const clustered = semanticDuplicates(vectors, order, { threshold: 0.95, exactLimit: 100, leafSize: 32 });
  const dupExact = exact.filter(Boolean).length;
  const agree = exact.filter((e, i) => (e === null) === (clustered[i] === null)).length;
  assert.equal(dupExact, 2800);
  assert.ok(agree / exact.length >= 0.99, `agreement ${agree}/${exact.length}`);
});

test('the precomputed cosine tables change no decision: the same duplicates, survivors and cosines as comparing on demand', () => {
  const rnd = seededRandom(11);
  const d = 40;
  const centers = Array.from({ length: 150 }, () => Float32Array.from({ length: d }, () => rnd() - 0.5));
  // Spreads around and across the threshold, a block of exact copies (ties broken by rank), a lopsided leaf, and
  // near copies visited right after their original (the last members a table block must hold).
  const vectors: Float32Array[] = [];
  for (let i = 0; i < 2600; i++) {
    if (i < 300) vectors.push(Float32Array.from(centers[0]!));
    else if (i % 2 === 1) vectors.push(Float32Array.from(vectors[i - 1]!, (x) => x + (rnd() - 0.5) * 0.02));
    else vectors.push(Float32Array.from(centers[i % centers.length]!, (x) => x + (rnd() - 0.5) * (i % 3 === 0 ? 1.2 : 0.4)));
  }
  const pairs = Array.from({ length: 1300 }, (_, p) => p).sort(() => rnd() - 0.5);
  const order = pairs.flatMap((p) => [2 * p, 2 * p + 1]);
  // One leaf of 1,800 (all pairs, one table), and the clustered path's many leaves.
  const small = order.filter((i) => i < 1800);
  for (const [opts, vs, o] of [[{ threshold: 0.97 }, vectors.slice(0, 1800), small], [{ threshold: 0.9, exactLimit: 100, leafSize: 16 }, vectors, order]] as const) {
    const onDemand = semanticDuplicates(vs, o, { ...opts, tableBudget: 0 });
    const tabled = semanticDuplicates(vs, o, opts);
    assert.ok(onDemand.filter(Boolean).length > 500 && onDemand.filter((x) => x === null).length > 300, 'both kept and removed items');
    assert.deepEqual(tabled, onDemand);
  }
});

test('semantic dedup of a file goes through /v1/embeddings, and a second run with the cache sends nothing', async () => {
  const server = await startFakeServer();
  try {
    const d = mkdtempSync(join(tmpdir(), 'forge-sem-'));
    const inPath = join(d, 'data.json');
    writeFileSync(inPath, JSON.stringify(items));
    const cfg = curationConfigSchema.parse({ rules: {}, dedup: { rouge: false, semantic: true } });
    const client = new EmbeddingsClient(generationConfigSchema.parse({}), { model: 'embed-test', apiKey: 'sk-test', baseURL: server.url });
    const run = async () => {
      const { cache, close } = EmbeddingCache.openFile(join(d, 'cache.db'));
      try {
        return await curateFile({ inPath, outPath: join(d, 'out.json'), cfg, embed: (texts) => embedTexts(texts, { client, cache, batchSize: 2 }) });
      } finally {
        close();
      }
    };
    const r1 = await run();
    assert.equal(r1.counts.byReason['duplicate:semantic'], 3);
    assert.equal(r1.kept, 3);
    const sent = server.embeddingRequests.flat();
    assert.equal(sent.length, items.length, 'each text sent once');
    const before = server.embeddingRequests.length;
    const r2 = await run();
    assert.equal(server.embeddingRequests.length, before, 'the second run sends no request');
    assert.deepEqual(r2.counts, r1.counts);
  } finally {
    await server.close();
  }
});

test('the second probe finds paraphrases that a cluster border separates from their original', () => {
  // Topics buried in noise, as embeddings of varied tasks are, and 10% paraphrases (an earlier item plus a little
  // noise): the clusters are only roughly right, so a pair can fall on either side of a border.
  const rnd = seededRandom(8);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const d = 48;
  const topics = Array.from({ length: 60 }, () => Float32Array.from({ length: d }, gauss));
  const vectors: Float32Array[] = [];
  for (let i = 0; i < 5000; i++) {
    if (i > 0 && rnd() < 0.1) vectors.push(Float32Array.from(vectors[Math.floor(rnd() * i)]!, (x) => x + 0.12 * gauss()));
    else vectors.push(Float32Array.from(topics[Math.floor(rnd() * topics.length)]!, (x) => x + 1.2 * gauss()));
  }
  const order = vectors.map((_, i) => i);
  const exact = semanticDuplicates(vectors, order, { threshold: 0.9, exactLimit: Infinity });
  const recall = (probes: 1 | 2) => {
    const found = semanticDuplicates(vectors, order, { threshold: 0.9, exactLimit: 0, leafSize: 32, probes });
    for (const [i, f] of found.entries()) if (f) assert.ok(f.cosine >= 0.9, `item ${i}`);
    return exact.filter((e, i) => e && found[i]).length / exact.filter(Boolean).length;
  };
  const one = recall(1);
  const two = recall(2);
  assert.ok(exact.filter(Boolean).length > 400);
  assert.ok(two > one + 0.03, `one probe ${one}, two ${two}`);
  assert.ok(two >= 0.9, `two probes ${two}`);
});
