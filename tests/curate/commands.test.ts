import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandContext, ParsedValues } from '../../src/cli/command.js';
import { plainContext } from '../helpers/command-context.js';
import { command as curate } from '../../src/cli/commands/curate.js';
import { command as stats } from '../../src/cli/commands/stats.js';
import { RunStore, type NewItem } from '../../src/store/run-store.js';
import { UsageError } from '../../src/errors.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

async function run(cmd: typeof curate, values: ParsedValues, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = plainContext({ values, positionals: [], env, out: (l) => out.push(l), err: (l) => err.push(l), interactive: false, signal: new AbortController().signal });
  const code = await cmd.run(ctx);
  return { code, out, err };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'forge-curcmd-'));
}

/** A config file that names the judge model (and no file in the working directory is consulted). */
function config(dir: string): string {
  const p = join(dir, 'forge.yaml');
  writeFileSync(p, 'generation:\n  model: judge-test\n  maxRetries: 0\n');
  return p;
}

function makeRun(dir: string): { runDir: string; ids: number[] } {
  const runDir = join(dir, 'run');
  const store = RunStore.open(runDir, { create: true });
  store.setMeta('lang', 'en');
  const texts = [
    ['Write a short poem about the sea at night.', 'Waves whisper.'],
    ['Write a short poem about the sea at dawn.', 'Light spills.'],
    ['Explain how a bicycle gear system works.', 'Gears change the ratio between pedal and wheel.'],
    ['List three uses of baking soda at home.', 'Cleaning, baking, deodorising.'],
  ];
  const req = store.beginRequest([]);
  const rows: NewItem[] = texts.map(([instruction, output], idx) => ({ id: store.allocateItemId(), idx, instruction: instruction!, input: '', output: output!, status: 'kept', reason: null, duplicateOf: null, similarity: null, similar: [] }));
  store.completeRequest(req, { raw: '[]', finishReason: 'stop', promptTokens: 1000, completionTokens: 500, costUsd: 0.01 }, rows);
  store.close();
  return { runDir, ids: rows.map((r) => r.id) };
}

test('curate --run re-curates with the threshold given, and --json reports before and after', async () => {
  const d = tempDir();
  const { runDir, ids } = makeRun(d);
  const r = await run(curate, { run: runDir, config: config(d), json: true });
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out[0]!) as { total: number; changed: number; after: { byStatus: Record<string, number> } };
  assert.equal(j.total, 4);
  assert.deepEqual(j.after.byStatus, { kept: 3, duplicate: 1 });
  const loose = await run(curate, { run: runDir, config: config(d), 'rouge-threshold': '0.95' });
  assert.equal(loose.code, 0);
  assert.match(loose.out[0]!, /kept 4 \(was kept 3, duplicate 1\)/);
  const store = RunStore.open(runDir);
  assert.equal(store.getItem(ids[1]!)!.status, 'kept');
  store.close();
});

test('curate --run --judge scores kept samples through the chat API and --min-score rejects the weak ones', async () => {
  const server = await startFakeServer({
    behave: (_n, body) => ({ kind: 'ok', text: body.messages[0]!.content.includes('baking soda') ? '{"score": 3, "reason": "thin"}' : '```json\n{"score": 5, "reason": "good"}\n```' }),
  });
  try {
    const d = tempDir();
    const { runDir, ids } = makeRun(d);
    const r = await run(curate, { run: runDir, config: config(d), judge: true, 'min-score': '4.5', 'base-url': server.url }, { OPENAI_API_KEY: 'sk-test' });
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(server.requests.length, 3); // the three kept samples; the duplicate is not judged
    assert.ok(server.requests.every((q) => q.model === 'judge-test' && q.temperature === 0));
    const store = RunStore.open(runDir);
    assert.deepEqual([store.getItem(ids[3]!)!.status, store.getItem(ids[3]!)!.reason, store.getItem(ids[3]!)!.judgeScore], ['rejected', 'judge', 3]);
    assert.deepEqual([store.getItem(ids[0]!)!.judgeScore, store.getItem(ids[0]!)!.judgeReason], [5, 'good']);
    assert.equal(store.summary().judgeRequests, 3);
    store.close();
    assert.ok(r.err.some((l) => /judged 3 samples: 3 scored/.test(l)), r.err.join('\n'));
  } finally {
    await server.close();
  }
});

test('curate --in/--out writes the kept items and a report; stats --in reads the same file', async () => {
  const d = tempDir();
  const inPath = join(d, 'data.jsonl');
  writeFileSync(
    inPath,
    [
      { instruction: 'Give three tips for staying healthy.', input: '', output: 'Eat, move, sleep.' },
      { instruction: 'Give three tips for staying healthy!', input: '', output: 'Same task.' },
      { instruction: 'Plot a graph of y = x squared.', input: '', output: 'I cannot.' },
      { instruction: 'Rewrite the sentence in the passive voice.', input: 'The cat ate the fish.', output: 'The fish was eaten by the cat.' },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n'),
  );
  const c = await run(curate, { in: inPath, out: join(d, 'out.json'), report: join(d, 'rep', 'report.md'), config: config(d) });
  assert.equal(c.code, 0);
  assert.match(c.out[0]!, /4 items → 2 kept/);
  assert.match(c.out[1]!, /duplicate:rouge 1, rule:blacklist 1/);
  assert.equal((JSON.parse(readFileSync(join(d, 'out.json'), 'utf8')) as unknown[]).length, 2);
  assert.ok(existsSync(join(d, 'rep', 'report-verbs.svg')));
  const s = await run(stats, { in: join(d, 'out.json'), json: true });
  const j = JSON.parse(s.out[0]!) as { report: { samples: number; withInput: { count: number } } };
  assert.equal(j.report.samples, 2);
  assert.equal(j.report.withInput.count, 1);
});

test('stats --run prints counts, requests, tokens and cost, then the report of kept samples', async () => {
  const d = tempDir();
  const { runDir } = makeRun(d);
  await run(curate, { run: runDir, config: config(d) });
  const s = await run(stats, { run: runDir, report: join(d, 'stats.md') });
  assert.equal(s.code, 0);
  const text = s.out.join('\n');
  assert.match(text, /items: kept 3, duplicate 1/);
  assert.match(text, /reasons: duplicate:rouge 1/);
  assert.match(text, /tokens: 1,000 prompt \+ 500 completion; cost \$0\.0100/);
  assert.match(text, /samples: 3; with input 0/);
  assert.match(readFileSync(join(d, 'stats.md'), 'utf8'), /## Run\n\n- items: kept 3, duplicate 1/);
});

test('curate and stats say what is missing when neither --run nor --in is given', async () => {
  await assert.rejects(run(curate, {}), (e: Error) => e instanceof UsageError && /--run DIR or --in FILE/.test(e.message));
  await assert.rejects(run(curate, { in: 'x.json' }), (e: Error) => e instanceof UsageError && /--out/.test(e.message));
  await assert.rejects(run(stats, { run: 'a', in: 'b' }), UsageError);
  await assert.rejects(run(curate, { in: 'x.json', out: 'y.json', rules: 'nope' }), /unknown rule "nope"/);
});

test('forge.yaml curation settings apply to curate, and a flag overrides the file', async () => {
  const d = tempDir();
  const { runDir, ids } = makeRun(d);
  const cfg = join(d, 'strict.yaml');
  writeFileSync(cfg, 'curation:\n  dedup:\n    rougeThreshold: 0.95\n  rules:\n    blacklist:\n      words: [bicycle]\n');
  await run(curate, { run: runDir, config: cfg });
  let store = RunStore.open(runDir);
  assert.equal(store.getItem(ids[1]!)!.status, 'kept');
  assert.deepEqual([store.getItem(ids[2]!)!.status, store.getItem(ids[2]!)!.reason], ['rejected', 'rule:blacklist']);
  store.close();
  await run(curate, { run: runDir, config: cfg, 'rouge-threshold': '0.7', rules: 'none' });
  store = RunStore.open(runDir);
  assert.equal(store.getItem(ids[1]!)!.status, 'duplicate');
  assert.equal(store.getItem(ids[2]!)!.status, 'kept');
  store.close();
});
