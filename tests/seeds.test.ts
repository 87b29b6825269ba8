import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSeedTasks, type SeedTask } from '../src/generate/seed-tasks.js';
import { DataError } from '../src/errors.js';

const englishPath = 'seeds/seed_tasks.jsonl';
const chinesePath = 'seeds/seed_tasks.zh.jsonl';
const cjk = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;

function nonEmptyLineCount(path: string): number {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
}

// Ids are one shared prefix plus 0, 1, 2… in file order ("seed_task_0…" in English, "zh_seed_task_0…" in Chinese).
function assertIdsAndNames(tasks: SeedTask[], path: string, prefix: string): void {
  tasks.forEach((t, i) => assert.equal(t.id, `${prefix}${i}`, `${path}: task ${i + 1} should have id ${prefix}${i}`));
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
  assertIdsAndNames(tasks, englishPath, 'seed_task_');
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
  assertIdsAndNames(tasks, chinesePath, 'zh_seed_task_');
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
