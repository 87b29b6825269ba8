import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../../src/config/schema.js';
import { runGeneration } from '../../../src/generate/run-generation.js';
import { RunStore } from '../../../src/store/run-store.js';
import { ProvenanceStore } from '../../../src/store/provenance-store.js';
import type { GenerateEvent } from '../../../src/events.js';
import { startFakeServer } from '../../helpers/fake-openai-server.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'forge-method-'));
const quiet = { onEvent: (_e: GenerateEvent) => {} };

function config(url: string, generation: Record<string, unknown>) {
  return forgeConfigSchema.parse({ generation: { baseUrl: url, model: 'test-model', concurrency: 4, seed: 1, ...generation }, prices: { 'test-model': { input: 1, output: 2 } } });
}

export function writeInput(dir: string, n: number): string {
  const file = join(dir, 'input.jsonl');
  const topics = ['volcanoes', 'tax forms', 'sourdough bread', 'chess openings', 'tide tables', 'bicycle gears', 'bee colonies', 'jazz chords', 'rainwater tanks', 'moon phases', 'glacier retreat', 'credit scores'];
  writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ instruction: `Describe how ${topics[i % topics.length]} work in plain words.`, input: '', output: `A short description of ${topics[i % topics.length]}.` })).join('\n') + '\n');
  return file;
}

/** Provenance of every evolved item, with the parent it names. */
function evolRows(store: RunStore) {
  const prov = new ProvenanceStore(store);
  return store.listItems().map((it) => ({ it, p: prov.get(it.id) }));
}

test('an evol run of 2 rounds from a small file records parent, root, operator and round, and its elimination reasons', async () => {
  const dir = tmp();
  const from = writeInput(dir, 6);
  // The first evolutions: one copies its parent, one echoes the prompt's markers; the first response is a refusal.
  let responses = 0;
  const server = await startFakeServer({
    answers: 'text',
    behave: (n, body) => {
      const prompt = body.messages[0]!.content;
      const evolving = prompt.includes('[END]');
      const parent = /\n(Describe how [^\n]+)\n\[END\]/.exec(prompt)?.[1];
      if (evolving && n === 0 && parent) return { kind: 'ok', text: parent };
      if (evolving && n === 1) return { kind: 'ok', text: '#Rewritten Prompt#: explain the thing in more depth please' };
      if (!evolving && responses++ === 0) return { kind: 'ok', text: "I'm sorry, but I cannot help with that." };
      return { kind: 'ok' };
    },
  });
  try {
    const runDir = join(dir, 'run');
    const out = await runGeneration({ runDir, config: config(server.url, { method: 'evol', target: 100, concurrency: 1, evol: { from, rounds: 2, operators: 'depth' } }), signal: new AbortController().signal, ...quiet });
    assert.equal(out.reason, 'exhausted');
    const store = RunStore.open(runDir);
    const rows = evolRows(store);
    const sources = rows.filter((r) => r.p?.method === 'source');
    assert.equal(sources.length, 6);
    const evolved = rows.filter((r) => r.p?.method === 'evol');
    assert.ok(evolved.length >= 6);
    const ids = new Set(rows.map((r) => r.it.id));
    for (const { p } of evolved) {
      assert.ok(p!.parentId !== null && ids.has(p!.parentId), 'the parent is an item of the run');
      assert.ok(p!.rootId !== null && sources.some((s) => s.it.id === p!.rootId), 'the root is an input item');
      assert.ok(p!.operator && ['constraints', 'deepen', 'concretize', 'reasoning', 'complicate-input'].includes(p!.operator));
      assert.ok(p!.round === 1 || p!.round === 2);
      const parent = rows.find((r) => r.it.id === p!.parentId)!;
      assert.equal(parent.p!.round, p!.round! - 1, 'a round evolves what the round before kept');
      assert.equal(parent.it.status, 'kept');
    }
    assert.ok(evolved.some((r) => r.p!.round === 2));
    const reasons = new Set(evolved.map((r) => r.it.reason));
    assert.ok(reasons.has('evol:no-new-information'), [...reasons].join());
    assert.ok(reasons.has('evol:copied-template'), [...reasons].join());
    assert.ok(reasons.has('evol:refusal'), [...reasons].join());
    // Each parent is evolved once per round.
    const perParent = new Set(evolved.map((r) => `${r.p!.parentId}:${r.p!.round}`));
    assert.equal(perParent.size, evolved.length);
    const stats = new ProvenanceStore(store).roundStats();
    assert.deepEqual(stats.map((s) => `${s.method}:${s.round}`), ['evol:1', 'evol:2', 'source:0']);
    store.close();
  } finally {
    await server.close();
  }
});

test('a Magpie run sends exactly the template prefix, cuts at the end of turn, drops by its filters and resumes to the exact target', async () => {
  const dir = tmp();
  const scripted: Record<number, string> = {
    1: 'Sure! Here is a short poem about the sea.<|eot_id|>',
    2: '<|eot_id|>',
    3: 'Please explain how a compiler works?\nPlease explain how a compiler works?<|eot_id|>',
    4: '请解释一下潮汐是怎么形成的？<|eot_id|>',
  };
  const server = await startFakeServer({ answers: 'text', behaveCompletion: (n) => (scripted[n] !== undefined ? { kind: 'ok', text: scripted[n] } : { kind: 'ok' }) });
  try {
    const runDir = join(dir, 'run');
    const first = await runGeneration({ runDir, config: config(server.url, { method: 'magpie', target: 8, concurrency: 2 }), signal: new AbortController().signal, ...quiet });
    assert.equal(first.kept, 8);
    for (const b of server.completionRequests) assert.equal(b.prompt, '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n');
    assert.ok(server.completionRequests[0]!.stop?.includes('<|eot_id|>'));
    const store = RunStore.open(runDir);
    const items = store.listItems();
    const reasons = items.map((i) => i.reason);
    for (const r of ['magpie:answer-not-instruction', 'magpie:empty', 'magpie:repeated-lines', 'magpie:wrong-language']) assert.ok(reasons.includes(r), `${r} in ${reasons.join()}`);
    for (const i of items.filter((x) => x.status === 'kept')) {
      assert.doesNotMatch(i.instruction, /<\||assistant/, 'cut at the end of turn');
      const chat = server.requests.find((r) => r.messages[0]!.content === i.instruction);
      assert.ok(chat, 'the kept instruction was answered through chat');
    }
    const prov = new ProvenanceStore(store);
    assert.ok(items.every((i) => prov.get(i.id)?.method === 'magpie' && prov.get(i.id)?.operator === 'llama3'));
    store.close();
    const again = await runGeneration({ runDir, config: config(server.url, { method: 'magpie', target: 15, concurrency: 4 }), signal: new AbortController().signal, ...quiet });
    assert.equal(again.kept, 15);
    const s2 = RunStore.open(runDir);
    assert.equal(s2.countItems('kept'), 15);
    s2.close();
  } finally {
    await server.close();
  }
});

test('a Magpie instruction that near-repeats a kept one is recorded as its duplicate before its response is paid for', async () => {
  const first = 'Explain how photosynthesis turns sunlight into chemical energy inside the leaves of green plants.';
  const scripted: Record<number, string> = { 0: `${first}<|eot_id|>`, 4: `Explain how photosynthesis turns sunlight into chemical energy inside the leaves of plants.<|eot_id|>` };
  const server = await startFakeServer({ answers: 'text', behaveCompletion: (n) => ({ kind: 'ok', ...(scripted[n] !== undefined ? { text: scripted[n] } : {}) }) });
  try {
    const runDir = join(tmp(), 'run');
    // One request at a time (a next one may start while an answer is committed), so the first instruction is
    // answered and kept long before the fifth is read.
    const out = await runGeneration({ runDir, config: config(server.url, { method: 'magpie', target: 5, concurrency: 1 }), signal: new AbortController().signal, ...quiet });
    assert.equal(out.kept, 5);
    const asked = server.requests.map((r) => r.messages[0]!.content);
    assert.ok(asked.includes(first));
    assert.ok(!asked.some((a) => a.includes('leaves of plants')), 'no response asked for the near-repeat');
    const store = RunStore.open(runDir);
    const items = store.listItems();
    const keptFirst = items.find((i) => i.instruction === first)!;
    const repeat = items.find((i) => i.instruction.includes('leaves of plants'))!;
    assert.equal(keptFirst.status, 'kept');
    assert.deepEqual({ status: repeat.status, reason: repeat.reason, of: repeat.duplicateOf, output: repeat.output }, { status: 'duplicate', reason: 'duplicate:rouge', of: String(keptFirst.id), output: '' });
    assert.ok(repeat.similarity! > 0.7);
    // Every answer is accounted: the repeat's pre-query request holds its item, so a resume does not ask its response.
    assert.equal(store.summary().requests.inFlight, 0);
    store.close();
    const again = await runGeneration({ runDir, config: config(server.url, { method: 'magpie', target: 5, concurrency: 1 }), signal: new AbortController().signal, ...quiet });
    assert.equal(again.reason, 'target');
    assert.ok(!server.requests.some((r) => r.messages[0]!.content.includes('leaves of plants')));
  } finally {
    await server.close();
  }
});

test('an evolution that near-repeats a kept item is recorded as its duplicate, with its lineage, before its response is paid for', async () => {
  const dir = tmp();
  const from = writeInput(dir, 2);
  // The second input's evolution comes back as a near-copy of the first input (kept from the start).
  const novel = 'Describe, step by step, how a beekeeper inspects a hive in early spring without harming the queen.';
  const repeat = 'Describe how volcanoes work, in plain words.';
  const server = await startFakeServer({
    answers: 'text',
    behave: (_n, body) => {
      const prompt = body.messages[0]!.content;
      if (!prompt.includes('[END]')) return { kind: 'ok' };
      return { kind: 'ok', text: prompt.includes('tax forms') ? repeat : novel };
    },
  });
  try {
    const runDir = join(dir, 'run');
    const out = await runGeneration({ runDir, config: config(server.url, { method: 'evol', target: 100, concurrency: 1, evol: { from, rounds: 2, operators: 'depth' } }), signal: new AbortController().signal, ...quiet });
    assert.equal(out.reason, 'exhausted', 'both rounds end: the duplicate is reported to the method like any item');
    const asked = server.requests.map((r) => r.messages[0]!.content);
    assert.ok(asked.some((a) => a.startsWith(novel)), 'the novel evolution was answered');
    assert.ok(!asked.some((a) => a.startsWith(repeat)), 'nothing was asked for the near-repeat');
    const store = RunStore.open(runDir);
    const rows = evolRows(store);
    const source = rows.find((r) => r.it.instruction === 'Describe how volcanoes work in plain words.')!;
    const dup = rows.find((r) => r.it.instruction === repeat)!;
    assert.deepEqual({ status: dup.it.status, reason: dup.it.reason, of: dup.it.duplicateOf, output: dup.it.output }, { status: 'duplicate', reason: 'duplicate:rouge', of: String(source.it.id), output: '' });
    const parent = rows.find((r) => r.it.id === dup.p!.parentId)!;
    assert.deepEqual({ method: dup.p!.method, round: dup.p!.round, parent: parent.it.instruction }, { method: 'evol', round: 1, parent: 'Describe how tax forms work in plain words.' });
    // Round 2 evolved only what round 1 kept: the novel evolution, not the duplicate.
    const round2 = rows.filter((r) => r.p?.round === 2);
    assert.ok(round2.length > 0 && round2.every((r) => r.p!.parentId === rows.find((x) => x.it.instruction === novel)!.it.id));
    assert.equal(store.summary().requests.inFlight, 0);
    store.close();
  } finally {
    await server.close();
  }
});

test('--lang zh sends the Chinese system turn before the pre-query, and the Chinese instructions are kept', async () => {
  const dir = tmp();
  // A zh run's rules want Chinese outputs too.
  const server = await startFakeServer({ answers: 'text', behave: (n) => ({ kind: 'ok', text: `潮汐主要是月球引力造成的，第${n}次回答说明了海水每天涨落两次的原因。` }) });
  try {
    const out = await runGeneration({ runDir: join(dir, 'run'), config: config(server.url, { method: 'magpie', target: 3, lang: 'zh', magpie: { template: 'qwen2' } }), signal: new AbortController().signal, ...quiet });
    assert.equal(out.kept, 3);
    assert.match(server.completionRequests[0]!.prompt, /^<\|im_start\|>system\n你是一个乐于助人的AI助手。.*<\|im_end\|>\n<\|im_start\|>user\n$/s);
  } finally {
    await server.close();
  }
});

test('a completions endpoint that answers 404 stops Magpie with one line naming the endpoint and what Magpie needs', async () => {
  const server = await startFakeServer({ completions: false });
  try {
    await assert.rejects(
      runGeneration({ runDir: join(tmp(), 'run'), config: config(server.url, { method: 'magpie', target: 3 }), signal: new AbortController().signal, ...quiet }),
      (e: Error) => {
        assert.doesNotMatch(e.message, /\n/);
        assert.ok(e.message.includes(`${server.url}/completions`), e.message);
        assert.match(e.message, /Magpie needs \/v1\/completions \(served by vLLM, llama\.cpp server and Ollama\)/);
        return true;
      },
    );
  } finally {
    await server.close();
  }
});
