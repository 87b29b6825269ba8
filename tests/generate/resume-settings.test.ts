import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { endpointOf } from '../../src/llm/endpoint-of.js';
import { parseAllowChange, RunChangedError, type RunSetting } from '../../src/generate/run-settings.js';
import { RunStore } from '../../src/store/run-store.js';
import { UsageError } from '../../src/errors.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'forge-resume-'));

function config(url: string, generation: Record<string, unknown> = {}) {
  return forgeConfigSchema.parse({
    generation: { baseUrl: url, model: 'test-model', concurrency: 2, target: 20, seed: 1, ...generation },
    prices: { 'test-model': { input: 1, output: 2 } },
  });
}

const seedLine = (i: number) =>
  JSON.stringify({ id: `mine_${i}`, name: `task_${i}`, instruction: `Describe the zorblat number ${i} in one sentence.`, instances: [{ input: '', output: `It is ${i}.` }], is_classification: false });
const writeSeeds = (path: string, n = 5) => writeFileSync(path, Array.from({ length: n }, (_, i) => seedLine(i)).join('\n') + '\n');

async function generate(runDir: string, url: string, generation: Record<string, unknown> = {}, allowChange: RunSetting[] = []) {
  return runGeneration({ runDir, config: config(url, generation), signal: new AbortController().signal, onEvent: () => {}, allowChange: new Set(allowChange) });
}

/** The example refs every generate request of the run was built from. */
function requestRefs(runDir: string): string[] {
  const db = new Database(join(runDir, 'run.db'), { readonly: true });
  const rows = db.prepare(`SELECT examples_json FROM requests WHERE kind = 'generate' ORDER BY id`).all() as Array<{ examples_json: string }>;
  db.close();
  return rows.flatMap((r) => (JSON.parse(r.examples_json) as { examples: string[] }).examples);
}

test('a resume with another --model is refused naming the setting; --allow-change model records the change', async () => {
  const server = await startFakeServer();
  const root = tmp();
  const runDir = join(root, 'run');
  try {
    await generate(runDir, server.url);
    const sent = server.requests.length;
    await assert.rejects(generate(runDir, server.url, { target: 40, model: 'other-model' }), (e: unknown) => {
      assert.ok(e instanceof RunChangedError, String(e));
      assert.equal(e.message, `${runDir} was started with --model test-model; this resume asks for other-model`);
      assert.equal(e.hint, 'rerun with --model test-model, or pass --allow-change model to record the change');
      assert.equal(e.exitCode, 3);
      return true;
    });
    assert.equal(server.requests.length, sent, 'a refused resume sends nothing');

    const out = await generate(runDir, server.url, { target: 40, model: 'other-model' }, ['model']);
    assert.equal(out.kept, 40);
    assert.equal(server.requests.at(-1)!.model, 'other-model');
    const store = RunStore.open(runDir);
    assert.equal(store.getMeta('model'), 'other-model');
    const history = store.history();
    assert.equal(history.length, 1);
    assert.deepEqual({ ...history[0], at: undefined }, { at: undefined, setting: 'model', oldValue: 'test-model', newValue: 'other-model' });
    assert.ok(!Number.isNaN(Date.parse(history[0]!.at)));
    store.close();
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('changing the template and the language on resume is refused, one line per setting', async () => {
  const server = await startFakeServer();
  const root = tmp();
  const runDir = join(root, 'run');
  try {
    await generate(runDir, server.url);
    await assert.rejects(generate(runDir, server.url, { target: 40, template: 'alpaca', lang: 'zh' }), (e: unknown) => {
      assert.ok(e instanceof RunChangedError);
      assert.deepEqual(e.message.split('\n'), [`${runDir} was started with --template json; this resume asks for alpaca`, `${runDir} was started with --lang en; this resume asks for zh`]);
      assert.match(e.hint ?? '', /rerun with --template json, rerun with --lang en, or pass --allow-change template,lang to record the changes/);
      return true;
    });
    // Allowing one of the two still refuses the other.
    await assert.rejects(generate(runDir, server.url, { target: 40, template: 'alpaca', lang: 'zh' }, ['template']), /started with --lang en/);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a resume without --seeds keeps the run its own seeds, recorded by absolute path, from any directory', async () => {
  const server = await startFakeServer();
  const root = tmp();
  const runDir = join(root, 'run');
  const home = process.cwd();
  try {
    writeSeeds(join(root, 'my-seeds.jsonl'));
    // The writer thread loads tsx from the working directory.
    symlinkSync(join(home, 'node_modules'), join(root, 'node_modules'));
    process.chdir(root);
    try {
      await generate('run', server.url, { seeds: 'my-seeds.jsonl' });
    } finally {
      process.chdir(home);
    }
    const store = RunStore.open(runDir);
    assert.equal(store.getMeta('seeds_path'), join(root, 'my-seeds.jsonl'));
    assert.match(store.getMeta('seeds_sha256') ?? '', /^[0-9a-f]{64}$/);
    store.close();

    // From another directory, without --seeds: the run's own seeds, not the bundled ones.
    const out = await generate(runDir, server.url, { target: 40 });
    assert.equal(out.kept, 40);
    const refs = requestRefs(runDir).filter((r) => r.startsWith('seed:'));
    assert.ok(refs.length > 0);
    for (const r of refs) assert.match(r, /^seed:mine_\d$/);
    const again = RunStore.open(runDir);
    assert.equal(again.getMeta('seeds_path'), join(root, 'my-seeds.jsonl'));
    assert.deepEqual(again.history(), []);
    again.close();
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a seed file changed since the run started is refused unless --allow-change seeds; a missing one is named', async () => {
  const server = await startFakeServer();
  const root = tmp();
  const runDir = join(root, 'run');
  const seeds = join(root, 'seeds.jsonl');
  try {
    writeSeeds(seeds);
    await generate(runDir, server.url, { seeds });
    appendFileSync(seeds, seedLine(9) + '\n');
    await assert.rejects(generate(runDir, server.url, { target: 40 }), (e: unknown) => {
      assert.ok(e instanceof RunChangedError);
      assert.match(e.message, new RegExp(`^${runDir} was started with --seeds ${seeds} \\(sha256 [0-9a-f]{12}\\), which has changed since \\(now [0-9a-f]{12}\\)$`));
      assert.match(e.hint ?? '', /--allow-change seeds/);
      return true;
    });
    // Other seeds under another name are refused too.
    const other = join(root, 'other.jsonl');
    writeSeeds(other, 4);
    await assert.rejects(generate(runDir, server.url, { target: 40, seeds: other }), new RegExp(`asks for ${other}`));
    // The same tasks under another name are the same seeds.
    const copy = join(root, 'copy.jsonl');
    writeSeeds(copy);
    appendFileSync(copy, seedLine(9) + '\n');

    await generate(runDir, server.url, { target: 40 }, ['seeds']);
    const store = RunStore.open(runDir);
    const [change] = store.history();
    assert.equal(change!.setting, 'seeds');
    assert.match(change!.oldValue ?? '', /seeds\.jsonl \(sha256 [0-9a-f]{12}\)/);
    store.close();
    await generate(runDir, server.url, { target: 60, seeds: copy });

    rmSync(copy);
    await assert.rejects(generate(runDir, server.url, { target: 80 }), (e: unknown) => {
      assert.ok(e instanceof RunChangedError);
      assert.equal(e.message, `${runDir}: the seed tasks it was started with, ${copy}, are missing`);
      return true;
    });
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('every request records the model that answered and the endpoint it was sent to', async () => {
  const answered = (body: { model: string }) =>
    JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: `${body.model}-2024-05-13`, choices: [{ index: 0, message: { role: 'assistant', content: '[]' }, finish_reason: 'stop' }] });
  const server = await startFakeServer({ behave: (n, body) => (n === 0 ? { kind: 'raw', body: answered(body) } : n === 1 ? { kind: 'status', status: 400 } : { kind: 'ok' }) });
  const root = tmp();
  const runDir = join(root, 'run');
  try {
    await generate(runDir, server.url, { concurrency: 1, maxRetries: 0 }).catch(() => undefined);
    const db = new Database(join(runDir, 'run.db'), { readonly: true });
    const rows = db.prepare(`SELECT status, model, endpoint FROM requests ORDER BY id`).all() as Array<{ status: string; model: string | null; endpoint: string | null }>;
    db.close();
    assert.ok(rows.length >= 2);
    assert.deepEqual(rows[0], { status: 'ok', model: 'test-model-2024-05-13', endpoint: server.url });
    // A request that never got an answer still names where it went.
    assert.equal(rows[1]!.model, 'test-model');
    assert.equal(rows[1]!.endpoint, server.url);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('the recorded endpoint drops credentials and query strings; --allow-change accepts only known settings', () => {
  assert.equal(endpointOf('https://user:secret@api.example.com/v1?api-key=sk-1'), 'https://api.example.com/v1');
  assert.equal(endpointOf('http://127.0.0.1:8000/v1/'), 'http://127.0.0.1:8000/v1');
  assert.deepEqual([...parseAllowChange(['model', 'seeds'])], ['model', 'seeds']);
  assert.throws(() => parseAllowChange(['modle']), (e: unknown) => e instanceof UsageError && /unknown setting "modle"/.test(e.message) && /seeds, model, template, lang/.test(e.hint ?? ''));
});

test('a run from before settings were recorded resumes as it was, and still refuses another model', async () => {
  const server = await startFakeServer();
  const root = tmp();
  const runDir = join(root, 'run');
  try {
    await generate(runDir, server.url);
    // What older versions left: no model or seed hash of their own (the model only in the config snapshot).
    const db = new Database(join(runDir, 'run.db'));
    db.prepare(`DELETE FROM meta WHERE key IN ('model', 'seeds_sha256')`).run();
    db.close();
    await assert.rejects(generate(runDir, server.url, { target: 40, model: 'other-model' }), /was started with --model test-model; this resume asks for other-model/);
    const out = await generate(runDir, server.url, { target: 40 });
    assert.equal(out.kept, 40);
    const store = RunStore.open(runDir);
    assert.equal(store.getMeta('model'), 'test-model');
    assert.match(store.getMeta('seeds_sha256') ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(store.history(), []);
    store.close();
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
});
