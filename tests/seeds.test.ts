import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { legacyBundledSeedId, loadSeedTasks, type SeedTask } from '../src/data/seed-tasks.js';
import { seedLookup } from '../src/review/seed-lookup.js';
import { DataError } from '../src/errors.js';

const englishPath = 'seeds/seed_tasks.jsonl';
const chinesePath = 'seeds/seed_tasks.zh.jsonl';
const cjk = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;

function nonEmptyLineCount(path: string): number {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
}

// Ids are one shared prefix plus 0001, 0002… in file order ("forge_en_0001…" in English, "forge_zh_0001…" in Chinese).
function assertIdsAndNames(tasks: SeedTask[], path: string, prefix: string): void {
  tasks.forEach((t, i) => {
    const id = `${prefix}${String(i + 1).padStart(4, '0')}`;
    assert.equal(t.id, id, `${path}: task ${i + 1} should have id ${id}`);
  });
  const seen = new Set<string>();
  for (const t of tasks) {
    assert.ok(!seen.has(t.name), `${path}: name "${t.name}" is used twice`);
    seen.add(t.name);
  }
}

// rouge_score's default tokenizer and ROUGE-L F1, written out here so the seed check does not depend on curate/.
function tokens(s: string): string[] {
  return s.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}
function rougeL(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const cur = [0];
    b.forEach((y, j) => cur.push(x === y ? prev[j]! + 1 : Math.max(prev[j + 1]!, cur[j]!)));
    prev = cur;
  }
  const lcs = prev[b.length]!;
  if (lcs === 0) return 0;
  const p = lcs / a.length;
  const r = lcs / b.length;
  return (2 * p * r) / (p + r);
}

test('English seed file: every line is a valid seed task with consecutive ids and unique names', () => {
  const tasks = loadSeedTasks(englishPath);
  assert.equal(tasks.length, nonEmptyLineCount(englishPath));
  assertIdsAndNames(tasks, englishPath, 'forge_en_');
});

test('English seed file has at least 175 tasks, 40% with input, and some classification tasks', () => {
  const tasks = loadSeedTasks(englishPath);
  assert.ok(tasks.length >= 175, `only ${tasks.length} tasks`);
  const withInput = tasks.filter((t) => t.instances.some((i) => i.input.trim() !== '')).length;
  assert.ok(withInput / tasks.length >= 0.4, `only ${withInput}/${tasks.length} tasks have an input`);
  assert.ok(tasks.some((t) => t.is_classification), 'no task has is_classification: true');
  assert.ok(tasks.some((t) => !t.is_classification), 'every task is a classification task');
});

test('English seed instructions are not near-duplicates of each other (ROUGE-L < 0.7)', () => {
  const tasks = loadSeedTasks(englishPath);
  const toks = tasks.map((t) => tokens(t.instruction));
  for (let i = 0; i < tasks.length; i++) {
    for (let j = i + 1; j < tasks.length; j++) {
      const f = rougeL(toks[i]!, toks[j]!);
      assert.ok(f < 0.7, `${tasks[i]!.name} and ${tasks[j]!.name} overlap (ROUGE-L ${f.toFixed(2)})`);
    }
  }
});

test('Chinese seed file: valid, at least 60 tasks, every instruction in Chinese', (t) => {
  if (!existsSync(chinesePath)) {
    t.skip(`${chinesePath} not present yet`);
    return;
  }
  const tasks = loadSeedTasks(chinesePath);
  assert.equal(tasks.length, nonEmptyLineCount(chinesePath));
  assertIdsAndNames(tasks, chinesePath, 'forge_zh_');
  assert.ok(tasks.length >= 60, `only ${tasks.length} tasks`);
  for (const task of tasks) assert.match(task.instruction, cjk, `${task.id}: instruction has no CJK characters`);
});

test('loadSeedTasks names the file, line and field of a bad record', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seeds-'));
  try {
    const good = { id: 'seed_task_0', name: 'ok', instruction: 'Say hi.', instances: [{ input: '', output: 'Hi!' }], is_classification: false };
    const path = join(dir, 'bad.jsonl');

    writeFileSync(path, `${JSON.stringify(good)}\n\n${JSON.stringify({ ...good, id: 'seed_task_1', is_classification: 'no' })}\n`);
    assert.throws(() => loadSeedTasks(path), (e: unknown) => e instanceof DataError && e.message.includes(`${path}:3`) && e.message.includes('"is_classification"'));

    writeFileSync(path, `${JSON.stringify({ ...good, instances: [{ input: 'x', output: '' }] })}\n`);
    assert.throws(() => loadSeedTasks(path), (e: unknown) => e instanceof DataError && e.message.includes(`${path}:1`) && e.message.includes('"instances.0.output"'));

    writeFileSync(path, `${JSON.stringify(good)}\n{"id": "seed_task_1",\n`);
    assert.throws(() => loadSeedTasks(path), (e: unknown) => e instanceof DataError && e.message.includes(`${path}:2`) && /not valid JSON/.test(e.message));

    writeFileSync(path, `${JSON.stringify(good)}\n${JSON.stringify({ ...good, name: 'other' })}\n`);
    assert.throws(() => loadSeedTasks(path), (e: unknown) => e instanceof DataError && e.message.includes(`${path}:2`) && e.message.includes('"id"'));

    writeFileSync(path, `${JSON.stringify(good)}\n`);
    assert.deepEqual(loadSeedTasks(path), [good]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('seed ids are unique across every bundled seed file, and none reuses an id of Alpaca\'s seeds', () => {
  const files = readdirSync('seeds').filter((f) => f.endsWith('.jsonl'));
  assert.ok(files.length >= 2, `expected the English and Chinese seed files, found ${files.join(', ')}`);
  const fileOfId = new Map<string, string>();
  for (const f of files) {
    for (const t of loadSeedTasks(join('seeds', f))) {
      assert.ok(!fileOfId.has(t.id), `id ${t.id} is in both ${fileOfId.get(t.id)} and ${f}`);
      assert.doesNotMatch(t.id, /^(zh_)?seed_task_\d+$/, `${f}: ${t.id} is one of Alpaca's seed ids, which other seed files reuse`);
      fileOfId.set(t.id, f);
    }
  }
});

test('runs that recorded the bundled seeds by their old Alpaca-style ids still find their text', () => {
  assert.equal(legacyBundledSeedId('forge_en_0001'), 'seed_task_0');
  assert.equal(legacyBundledSeedId('forge_zh_0012'), 'zh_seed_task_11');
  assert.equal(legacyBundledSeedId('my_task'), undefined);
  const english = loadSeedTasks(englishPath);
  const lookup = seedLookup({ getMeta: (key: string) => (key === 'seeds_path' ? englishPath : undefined) });
  assert.equal(lookup('seed_task_0'), english[0]!.instruction);
  assert.equal(lookup('forge_en_0002'), english[1]!.instruction);
});
