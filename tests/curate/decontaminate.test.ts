import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadContamination } from '../../src/curate/contamination-index.js';
import { loadBenchmarkFile, readBenchmarkFile } from '../../src/data/benchmark-file.js';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { curateFile } from '../../src/curate/curate-file.js';
import { curationConfigSchema } from '../../src/config/curation.js';
import { DataError } from '../../src/errors.js';

const dir = () => mkdtempSync(join(tmpdir(), 'forge-decon-'));

const gsm = [
  { question: 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?', answer: '72' },
  { question: 'Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?', answer: '10' },
  { question: 'Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. How much more money does Betty need?', answer: '5' },
];
const cmmlu = [
  { id: 'c1', 题目: '下列关于光合作用的叙述中，正确的是哪一项？请从四个选项中选出最符合题意的答案。', 答案: 'B' },
  { id: 'c2', 题目: '中国古代四大发明中，最早用于航海导航的是哪一项发明？请说明理由并举例。', 答案: 'C' },
];

function benchmarks(d: string): { jsonl: string; csv: string } {
  const jsonl = join(d, 'gsm8k_test.jsonl');
  writeFileSync(jsonl, gsm.map((g) => JSON.stringify(g)).join('\n') + '\n');
  const csv = join(d, 'cmmlu.csv');
  writeFileSync(csv, `id,题目,答案\n${cmmlu.map((c) => `${c.id},"${c.题目}",${c.答案}`).join('\n')}\n`);
  return { jsonl, csv };
}

const samples = [
  // Planted in the output (EN).
  { instruction: 'Solve a word problem for me.', input: '', output: `Sure. ${gsm[0]!.question} The answer is 72.` },
  // Planted in the input (EN), with different case and spacing.
  { instruction: 'Answer the question below.', input: gsm[1]!.question.toUpperCase().replace(/ /g, '  '), output: 'She earned $10.' },
  // Planted in the input (ZH).
  { instruction: '请回答下面的选择题。', input: cmmlu[0]!.题目, output: '答案是B。' },
  // Planted in the output (ZH), inside other text.
  { instruction: '出一道历史题。', input: '', output: `好的：${cmmlu[1]!.题目}答案是指南针。` },
  // Clean samples: same topics, no shared 13-gram.
  { instruction: 'Write a word problem about selling clips to friends.', input: '', output: 'Tom sold 20 clips on Monday and twice as many on Tuesday. How many clips did he sell?' },
  { instruction: '简要解释光合作用的过程。', input: '', output: '光合作用是植物利用光能把二氧化碳和水转化为有机物并释放氧气的过程。' },
];

test('planted benchmark questions in inputs and outputs, English and Chinese, are all found; clean samples are untouched', async () => {
  const d = dir();
  const { jsonl, csv } = benchmarks(d);
  const index = await loadContamination([jsonl, csv], { fields: null, ngram: 13, overlap: null });
  const hits = samples.map((s, i) => index.check(String(i), [s.instruction, s.input, s.output]));
  assert.deepEqual(hits.map((h) => (h ? `${h.file}:${h.position}` : null)), [`${jsonl}:1`, `${jsonl}:2`, `${csv}:2`, `${csv}:3`, null, null]);
  assert.match(hits[0]!.span, /^natalia sold clips to 48 of her friends in april/);
  assert.equal([...hits[2]!.span].length, 13, 'a Chinese span is 13 characters');
  assert.deepEqual(
    index.table().map((r) => [r.file, r.items, r.itemsHit, r.samplesRemoved]),
    [
      [jsonl, 3, 2, 2],
      [csv, 2, 2, 2],
    ],
  );
});

test('curate --decontaminate rejects contaminated samples with the file, item and span, and reports them per benchmark', async () => {
  const d = dir();
  const { jsonl } = benchmarks(d);
  const inPath = join(d, 'data.json');
  writeFileSync(inPath, JSON.stringify(samples.slice(0, 2).concat(samples.slice(4, 5))));
  const index = await loadContamination([jsonl], { fields: ['question'], ngram: 13, overlap: null });
  const r = await curateFile({ inPath, outPath: join(d, 'out.json'), cfg: curationConfigSchema.parse({}), rejectedPath: join(d, 'rejected.jsonl'), reportPath: join(d, 'report.md'), contamination: index });
  assert.equal(r.counts.byReason['contamination'], 2);
  assert.equal(r.kept, 1);
  const rejected = readFileSync(join(d, 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { record: number; reason: string; detail: string });
  assert.deepEqual(rejected.map((x) => [x.record, x.reason]), [[1, 'contamination'], [2, 'contamination']]);
  assert.match(rejected[0]!.detail, new RegExp(`^${jsonl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 1: "natalia sold clips`));
  const md = readFileSync(join(d, 'report.md'), 'utf8');
  assert.match(md, /## Contamination/);
  assert.match(md, new RegExp(`\\| ${jsonl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\| 3 \\| 2 \\| 2 \\|`));
});

test('--overlap removes only samples sharing at least that share of their n-grams', async () => {
  const d = dir();
  const { jsonl } = benchmarks(d);
  const strict = await loadContamination([jsonl], { fields: ['question'], ngram: 8, overlap: 0.9 });
  const loose = await loadContamination([jsonl], { fields: ['question'], ngram: 8, overlap: 0.2 });
  const s = [samples[0]!.instruction, '', `${samples[0]!.output} ${'Here is a long explanation of how to add two numbers step by step.'.repeat(2)}`];
  assert.equal(strict.check('a', s), null);
  assert.ok(loose.check('a', s));
});

test('CSV and JSONL benchmarks are read with a field mapping', () => {
  const d = dir();
  const { jsonl, csv } = benchmarks(d);
  assert.deepEqual(readBenchmarkFile(jsonl, ['answer']).items.map((i) => i.texts), [['72'], ['10'], ['5']]);
  const c = readBenchmarkFile(csv, ['题目']);
  assert.deepEqual(c.items.map((i) => [i.position, i.texts[0]]), [[2, cmmlu[0]!.题目], [3, cmmlu[1]!.题目]]);
  const quoted = join(d, 'quoted.csv');
  writeFileSync(quoted, 'q,a\n"He said ""hi"", then\nleft",x\nplain,y\n');
  assert.deepEqual(readBenchmarkFile(quoted, ['q']).items.map((i) => [i.position, i.texts[0]]), [[2, 'He said "hi", then\nleft'], [4, 'plain']]);
});

test('a malformed benchmark file gives a one-line error naming the file, the line and the field', () => {
  const d = dir();
  const missing = join(d, 'bad.jsonl');
  writeFileSync(missing, '{"question": "a", "answer": "b"}\n{"prompt": "c"}\n');
  assertOneLine(() => readBenchmarkFile(missing, ['question']), new RegExp(`^${escape(missing)}:2: field "question" is missing$`));
  const notText = join(d, 'nested.jsonl');
  writeFileSync(notText, '{"question": {"text": "a"}}\n');
  assertOneLine(() => readBenchmarkFile(notText, ['question']), new RegExp(`^${escape(notText)}:1: field "question" is not text$`));
  const broken = join(d, 'broken.jsonl');
  writeFileSync(broken, '{"question": "a"}\n{"question": "b"\n');
  assertOneLine(() => readBenchmarkFile(broken, null), new RegExp(`^${escape(broken)}:2:\\d+: not valid JSON`));
  const csv = join(d, 'bad.csv');
  writeFileSync(csv, 'q,a\nx,y\nz\n');
  assertOneLine(() => readBenchmarkFile(csv, ['q']), new RegExp(`^${escape(csv)}:3: not valid CSV \\(1 fields where the header has 2\\)$`));
  // An empty file (a failed download, a wrong path) would otherwise report 0 hits as if the data were clean.
  for (const [name, body] of [['empty.jsonl', '\n'], ['empty.json', '[]'], ['header-only.csv', 'q,a\n']] as const) {
    const f = join(d, name);
    writeFileSync(f, body);
    assertOneLine(() => readBenchmarkFile(f, null), new RegExp(`^${escape(f)}: no benchmark items in the file$`));
  }
});

/** The GSM8K items as a Parquet file (as the Hugging Face Hub serves test sets), with an int64 id column. */
function gsmParquet(d: string): string {
  const path = join(d, 'gsm8k_test.parquet');
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: gsm.map((_, i) => BigInt(i + 1)), type: 'INT64' },
      { name: 'question', data: gsm.map((g) => g.question), type: 'STRING' },
      { name: 'answer', data: gsm.map((g) => g.answer), type: 'STRING' },
    ],
  });
  writeFileSync(path, new Uint8Array(buf));
  return path;
}

test('a Parquet benchmark decontaminates like its JSONL twin, naming its records', async () => {
  const d = dir();
  const { jsonl } = benchmarks(d);
  const parquet = gsmParquet(d);
  const read = await loadBenchmarkFile(parquet, ['question', 'answer']);
  assert.deepEqual(read.items.map((i) => [i.position, i.unit, ...i.texts]), gsm.map((g, i) => [i + 1, 'record', g.question, g.answer]));
  const fromJsonl = await loadContamination([jsonl], { fields: ['question'], ngram: 13, overlap: null });
  const fromParquet = await loadContamination([parquet], { fields: ['question'], ngram: 13, overlap: null });
  const hits = (index: typeof fromJsonl) => samples.map((s, i) => index.check(String(i), [s.instruction, s.input, s.output]));
  const a = hits(fromJsonl);
  const b = hits(fromParquet);
  assert.deepEqual(b.map((h) => h?.position ?? null), a.map((h) => h?.position ?? null));
  assert.deepEqual(b.map((h) => h?.span ?? null), a.map((h) => h?.span ?? null));
  assert.equal(b.filter(Boolean).length, 2);
  assert.deepEqual(fromParquet.table().map((r) => [r.items, r.itemsHit, r.samplesRemoved]), [[3, 2, 2]]);
  // Every field, the int64 id among them, when no mapping is given.
  const all = await loadBenchmarkFile(parquet, null);
  assert.deepEqual(all.items[1]!.texts, ['2', gsm[1]!.question, gsm[1]!.answer]);
});

test('a corrupt or truncated Parquet file, or a missing field in one, gives a one-line error naming the file', async () => {
  const d = dir();
  const good = readFileSync(gsmParquet(d));
  const truncated = join(d, 'truncated.parquet');
  writeFileSync(truncated, good.subarray(0, good.length - 20));
  const garbage = join(d, 'garbage.parquet');
  writeFileSync(garbage, 'PAR1 this is not parquet at all\nsecond line PAR1');
  for (const path of [truncated, garbage]) {
    await assert.rejects(loadBenchmarkFile(path, null), (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.ok(!e.message.includes('\n'), e.message);
      assert.match(e.message, new RegExp(`^${escape(path)}: not a readable Parquet file \\(`));
      return true;
    });
  }
  await assert.rejects(loadBenchmarkFile(join(d, 'gsm8k_test.parquet'), ['prompt']), (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.match(e.message, new RegExp(`^${escape(join(d, 'gsm8k_test.parquet'))}: record 1: field "prompt" is missing$`));
    return true;
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function assertOneLine(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError);
    assert.ok(!e.message.includes('\n'), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}
