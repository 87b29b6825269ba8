import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../../src/config/schema.js';
import { runGeneration } from '../../../src/generate/run-generation.js';
import { RunStore } from '../../../src/store/run-store.js';
import { ProvenanceStore } from '../../../src/store/provenance-store.js';
import type { GenerateEvent } from '../../../src/events.js';
import type { GenerationOutcome } from '../../../src/generate/generation-method.js';
import { startFakeServer, type FakeServer } from '../../helpers/fake-openai-server.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'forge-method-batch-'));

/** n Alpaca items for evol's input (not imported from another test file: that would run its tests here too). */
function writeInput(dir: string, n: number): string {
  const file = join(dir, 'input.jsonl');
  writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ instruction: `Describe how item ${i} of the list works in plain words.`, input: '', output: 'A short description.' })).join('\n') + '\n');
  return file;
}
const quiet = { onEvent: (_e: GenerateEvent) => {}, signal: new AbortController().signal };

function config(url: string, generation: Record<string, unknown>) {
  return forgeConfigSchema.parse({
    generation: { baseUrl: url, model: 'test-model', seed: 1, batch: { maxRequests: 4, pollSeconds: 0.02, maxPollSeconds: 0.05 }, ...generation },
    prices: { 'test-model': { input: 1, output: 2, batchInput: 0.5, batchOutput: 1 } },
  });
}

interface Line {
  custom_id: string;
  url: string;
  body: { prompt?: string; messages?: Array<{ content: string }> };
}

/** The offline engine: each line answered at its own url, written as vLLM's run_batch writes its output. */
async function runBatchFile(server: FakeServer, inFile: string, outFile: string): Promise<Line[]> {
  const lines = readFileSync(inFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
  const answers = await Promise.all(
    lines.map(async (l) => {
      const r = await fetch(`${server.url.replace(/\/v1$/, '')}${l.url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(l.body) });
      return JSON.stringify({ id: `vllm-${l.custom_id}`, custom_id: l.custom_id, response: { status_code: 200, request_id: l.custom_id, body: await r.json() }, error: null });
    }),
  );
  writeFileSync(outFile, `${answers.join('\n')}\n`);
  return lines;
}

/** Emits and ingests rounds until the run says it is done; returns every round's lines. */
async function offlineRounds(server: FakeServer, runDir: string, cfg: ReturnType<typeof config>, dir: string): Promise<{ rounds: Line[][]; last: GenerationOutcome }> {
  const rounds: Line[][] = [];
  for (let i = 0; i < 30; i++) {
    const inFile = join(dir, `in-${i}.jsonl`);
    const emitted = await runGeneration({ runDir, config: cfg, batch: { kind: 'emit', file: inFile }, ...quiet });
    if (emitted.reason !== 'batch-pending') return { rounds, last: emitted };
    rounds.push(await runBatchFile(server, inFile, join(dir, `out-${i}.jsonl`)));
    const ingested = await runGeneration({ runDir, config: cfg, batch: { kind: 'ingest', file: join(dir, `out-${i}.jsonl`) }, ...quiet });
    if (ingested.reason !== 'batch-pending') return { rounds, last: ingested };
  }
  throw new Error('the offline rounds never ended');
}

/** Every evolved item names a kept parent of the round before, and no parent is evolved twice in a round. */
function assertEvolTree(runDir: string, rounds: number): { evolved: number } {
  const store = RunStore.open(runDir);
  const prov = new ProvenanceStore(store);
  const items = store.listItems();
  const byId = new Map(items.map((i) => [i.id, i]));
  const seen = new Set<string>();
  let evolved = 0;
  for (const it of items) {
    const p = prov.get(it.id)!;
    if (p.method === 'source') continue;
    evolved++;
    assert.equal(p.method, 'evol');
    assert.ok(p.round! >= 1 && p.round! <= rounds);
    const key = `${p.parentId}:${p.round}`;
    assert.ok(!seen.has(key), `parent ${p.parentId} evolved twice in round ${p.round}`);
    seen.add(key);
    const parent = byId.get(p.parentId!)!;
    assert.equal(parent.status, 'kept');
    assert.equal(prov.get(parent.id)!.round, p.round! - 1);
  }
  assert.equal(store.summary().requests.queued, 0);
  store.close();
  return { evolved };
}

test('evol through the Batch API: every round in batches, an evolution\'s response in the batch after it, the tree intact', async () => {
  const dir = tmp();
  const server = await startFakeServer({ answers: 'text' });
  try {
    const runDir = join(dir, 'run');
    const out = await runGeneration({ runDir, config: config(server.url, { method: 'evol', mode: 'batch', target: 100, evol: { from: writeInput(dir, 6), rounds: 2, operators: 'depth' } }), ...quiet });
    assert.equal(out.reason, 'exhausted', out.message);
    assert.equal(server.requests.length, 0, 'no online request');
    const { evolved } = assertEvolTree(runDir, 2);
    assert.ok(evolved >= 12, `${evolved} evolutions over 2 rounds of 6`);
    assert.equal(out.kept, 6 + evolved);
    const store = RunStore.open(runDir);
    assert.ok(store.batches().length >= 4, 'evolve and respond rounds for each evol round');
    store.close();
  } finally {
    await server.close();
  }
});

test('evol offline: --emit-batch / --ingest-batch rounds, each process rebuilding what is left, reach the end of round 2', async () => {
  const dir = tmp();
  const server = await startFakeServer({ answers: 'text' });
  try {
    const runDir = join(dir, 'run');
    const cfg = config(server.url, { method: 'evol', target: 100, evol: { from: writeInput(dir, 5), rounds: 2, operators: 'depth' } });
    const { rounds, last } = await offlineRounds(server, runDir, cfg, dir);
    assert.equal(last.reason, 'exhausted', last.message);
    assert.ok(rounds.flat().every((l) => l.url === '/v1/chat/completions'));
    // The first file evolves, a later one holds the responses of what the earlier ones evolved.
    assert.ok(rounds[0]!.every((l) => l.body.messages![0]!.content.includes('[END]')));
    assert.ok(rounds[1]!.some((l) => !l.body.messages![0]!.content.includes('[END]')));
    const { evolved } = assertEvolTree(runDir, 2);
    assert.equal(evolved, 10);
  } finally {
    await server.close();
  }
});

test('Magpie offline: /v1/completions lines for the pre-query, chat lines for the responses in the next file, to the exact target', async () => {
  const dir = tmp();
  const server = await startFakeServer({ answers: 'text' });
  try {
    const runDir = join(dir, 'run');
    const { rounds, last } = await offlineRounds(server, runDir, config(server.url, { method: 'magpie', target: 7 }), dir);
    assert.equal(last.reason, 'target', last.message);
    assert.ok(rounds[0]!.every((l) => l.url === '/v1/completions' && l.body.prompt === '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n'));
    assert.ok(rounds[1]!.some((l) => l.url === '/v1/chat/completions'));
    const store = RunStore.open(runDir);
    const kept = store.listItems({ status: ['kept'] });
    assert.equal(kept.length, 7);
    const asked = new Set(rounds.flat().flatMap((l) => (l.body.messages ? [l.body.messages[0]!.content] : [])));
    for (const k of kept) assert.ok(asked.has(k.instruction), 'each kept instruction was answered through a chat line');
    assert.equal(asked.size, rounds.flat().filter((l) => l.body.messages).length, 'no instruction asked twice');
    store.close();
  } finally {
    await server.close();
  }
});

test('Magpie offline: a near-repeat of an instruction kept in an earlier round is recorded as its duplicate, and no chat line asks it', async () => {
  const dir = tmp();
  const first = 'Explain how photosynthesis turns sunlight into chemical energy inside the leaves of green plants.';
  // Round 0 holds four pre-queries (one of them answered with `first`); round 1 its four responses and new pre-queries,
  // two of which answer with near-repeats of `first`.
  const repeats: Record<number, string> = {
    4: 'Explain how photosynthesis turns sunlight into chemical energy inside the leaves of plants.',
    5: 'Explain how photosynthesis turns the sunlight into chemical energy inside leaves of green plants.',
  };
  const server = await startFakeServer({ answers: 'text', behaveCompletion: (n) => ({ kind: 'ok', ...(n === 0 ? { text: `${first}<|eot_id|>` } : repeats[n] ? { text: `${repeats[n]}<|eot_id|>` } : {}) }) });
  try {
    const runDir = join(dir, 'run');
    const { rounds, last } = await offlineRounds(server, runDir, config(server.url, { method: 'magpie', target: 7 }), dir);
    assert.equal(last.reason, 'target', last.message);
    const store = RunStore.open(runDir);
    const items = store.listItems();
    store.close();
    const kept = items.find((i) => i.instruction === first)!;
    assert.equal(kept.status, 'kept');
    for (const text of Object.values(repeats)) {
      const it = items.find((i) => i.instruction === text)!;
      assert.deepEqual({ status: it.status, reason: it.reason, of: it.duplicateOf, output: it.output }, { status: 'duplicate', reason: 'duplicate:rouge', of: String(kept.id), output: '' });
    }
    const asked = rounds.flat().flatMap((l) => (l.body.messages ? [l.body.messages[0]!.content] : []));
    assert.ok(asked.includes(first));
    for (const text of Object.values(repeats)) assert.ok(!asked.includes(text), `no response line for "${text}"`);
  } finally {
    await server.close();
  }
});

test('evol offline: an evolution that near-repeats an input is recorded as its duplicate, no response line asks it, and the rounds still end', async () => {
  const dir = tmp();
  const from = join(dir, 'topics.jsonl');
  const topics = ['volcanoes', 'tax forms', 'sourdough bread'];
  writeFileSync(from, topics.map((t) => JSON.stringify({ instruction: `Describe how ${t} work in plain words.`, input: '', output: 'A short description.' })).join('\n') + '\n');
  // The tax-forms item evolves into a near-copy of the volcanoes item; the others into tasks of their own.
  const repeat = 'Describe how volcanoes work, in plain words.';
  const novel = [
    'Explain, with one worked example, how a thermostat keeps a room warm overnight.',
    'List four mistakes beginners make when pruning apple trees, and how to avoid each.',
    'Compare wind and solar power for a remote farm in under two hundred words.',
    'Write a friendly email asking a neighbour to trim an overhanging hedge by Friday.',
    'Summarise why bridges expand in summer, using a table of three materials.',
    'Give a three-step plan for learning basic sign language in a month.',
  ];
  const server = await startFakeServer({
    answers: 'text',
    behave: (n, body) => {
      const prompt = body.messages[0]!.content;
      if (!prompt.includes('[END]')) return { kind: 'ok' };
      return { kind: 'ok', text: prompt.includes('tax forms') ? repeat : novel[n % novel.length]! };
    },
  });
  try {
    const runDir = join(dir, 'run');
    const { rounds, last } = await offlineRounds(server, runDir, config(server.url, { method: 'evol', target: 100, evol: { from, rounds: 2, operators: 'depth' } }), dir);
    assert.equal(last.reason, 'exhausted', last.message);
    const store = RunStore.open(runDir);
    const items = store.listItems();
    const prov = new ProvenanceStore(store);
    const source = items.find((i) => i.instruction === 'Describe how volcanoes work in plain words.')!;
    const dup = items.find((i) => i.instruction === repeat)!;
    assert.deepEqual({ status: dup.status, reason: dup.reason, of: dup.duplicateOf, output: dup.output }, { status: 'duplicate', reason: 'duplicate:rouge', of: String(source.id), output: '' });
    assert.equal(prov.get(dup.id)?.round, 1);
    assert.ok(items.some((i) => prov.get(i.id)?.round === 2 && i.status === 'kept'), 'round 2 evolved what round 1 kept');
    store.close();
    const asked = rounds.flat().flatMap((l) => (l.body.messages ? [l.body.messages[0]!.content] : []));
    assert.ok(!asked.some((a) => a.startsWith(repeat)), 'no response line for the near-repeat');
  } finally {
    await server.close();
  }
});

test('Magpie with --mode batch is refused before anything is sent, saying that the Batch API serves no raw completions for chat models', async () => {
  const server = await startFakeServer();
  try {
    const runDir = join(tmp(), 'run');
    await assert.rejects(runGeneration({ runDir, config: config(server.url, { method: 'magpie', mode: 'batch', target: 5 }), ...quiet }), (e: Error) => {
      assert.match(e.message, /Batch API does not serve raw completions for chat models/);
      assert.match((e as Error & { hint?: string }).hint ?? '', /--emit-batch/);
      return true;
    });
    assert.equal(server.batchApi.files.size + server.completionRequests.length, 0);
  } finally {
    await server.close();
  }
});

test('a resume that forgets --method evol is refused, naming the run\'s method, before its batch file is read as self-instruct\'s', async () => {
  const dir = tmp();
  const server = await startFakeServer({ answers: 'text' });
  try {
    const runDir = join(dir, 'run');
    const cfg = config(server.url, { method: 'evol', target: 100, evol: { from: writeInput(dir, 2), rounds: 1, operators: 'depth' } });
    const emitted = await runGeneration({ runDir, config: cfg, batch: { kind: 'emit', file: join(dir, 'in.jsonl') }, ...quiet });
    assert.equal(emitted.reason, 'batch-pending');
    await runBatchFile(server, join(dir, 'in.jsonl'), join(dir, 'out.jsonl'));
    await assert.rejects(runGeneration({ runDir, config: config(server.url, { target: 100 }), batch: { kind: 'ingest', file: join(dir, 'out.jsonl') }, ...quiet }), /was made with --method evol; this command asks for --method self-instruct/);
    const ingested = await runGeneration({ runDir, config: cfg, batch: { kind: 'ingest', file: join(dir, 'out.jsonl') }, ...quiet });
    assert.equal(ingested.reason, 'batch-pending');
  } finally {
    await server.close();
  }
});

test('with storeRejected 0 a dropped evolution still marks its parent as evolved: a re-run of a finished round sends nothing', async () => {
  const dir = tmp();
  // The first two evolutions copy their parent (no new information): dropped.
  const server = await startFakeServer({
    answers: 'text',
    behave: (n, body) => {
      const parent = /\n(Describe how [^\n]+)\n\[END\]/.exec(body.messages[0]!.content)?.[1];
      return parent && n < 2 ? { kind: 'ok', text: parent } : { kind: 'ok' };
    },
  });
  try {
    const runDir = join(dir, 'run');
    const cfg = forgeConfigSchema.parse({ generation: { baseUrl: server.url, model: 'test-model', seed: 1, concurrency: 1, method: 'evol', target: 100, storeRejected: 0, evol: { from: writeInput(dir, 4), rounds: 1, operators: 'deepen' } } });
    const first = await runGeneration({ runDir, config: cfg, ...quiet });
    assert.equal(first.reason, 'exhausted');
    const store = RunStore.open(runDir);
    assert.equal(store.summary().byReason['evol:no-new-information'], 2);
    store.close();
    const sent = server.requests.length;
    const again = await runGeneration({ runDir, config: cfg, ...quiet });
    assert.equal(again.reason, 'exhausted');
    assert.equal(server.requests.length, sent, 'no parent evolved a second time');
  } finally {
    await server.close();
  }
});
