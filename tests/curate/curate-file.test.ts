import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curationConfigSchema, judgeConfigSchema } from '../../src/config/curation.js';
import { curateFile } from '../../src/curate/curate-file.js';
import { readAlpacaFile } from '../../src/data/alpaca-file.js';
import type { JudgeClient } from '../../src/curate/judge.js';

const defaults = curationConfigSchema.parse({});

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'forge-curfile-'));
}

const english = [
  { instruction: 'Give three tips for staying healthy.', input: '', output: '1. Eat well.\n2. Move.\n3. Sleep.' },
  { instruction: 'give three tips for  staying healthy.', input: '', output: 'Exact duplicate after normalising.' },
  { instruction: 'Give three tips for staying very healthy.', input: '', output: 'Near duplicate.' },
  { instruction: 'Describe the image below in detail.', input: '<image>', output: 'A cat.' },
  { instruction: 'Translate the sentence into French.', input: 'I like tea.', output: "J'aime le thé." },
  { instruction: 'What is the capital of France?', input: '', output: 'As an AI language model, I cannot browse.' },
];

test('a JSON dataset is curated in file order and the kept items are written in the same Alpaca format', async () => {
  const d = dir();
  const inPath = join(d, 'data.json');
  writeFileSync(inPath, JSON.stringify(english));
  const r = await curateFile({ inPath, outPath: join(d, 'out.json'), cfg: defaults, rejectedPath: join(d, 'rejected.jsonl') });
  assert.equal(r.lang, 'en');
  assert.deepEqual(r.counts.byStatus, { kept: 2, duplicate: 2, rejected: 2 });
  assert.deepEqual(r.counts.byReason, { 'duplicate:exact': 1, 'duplicate:rouge': 1, 'rule:blacklist': 1, 'rule:refusal': 1 });
  const kept = readAlpacaFile(join(d, 'out.json'));
  assert.deepEqual(kept.map((k) => k.instruction), [english[0]!.instruction, english[4]!.instruction]);
  assert.ok(readFileSync(join(d, 'out.json'), 'utf8').trimStart().startsWith('['));
  const rejected = readFileSync(join(d, 'rejected.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rejected.map((x) => [x['record'], x['reason'], x['duplicateOf']]), [
    [2, 'duplicate:exact', '1'],
    [3, 'duplicate:rouge', '1'],
    [4, 'rule:blacklist', null],
    [6, 'rule:refusal', null],
  ]);
  assert.equal(rejected[3]!['detail'], 'output contains "as an ai language model"');
});

test('a Chinese JSONL dataset is detected as Chinese and its near-duplicates removed', async () => {
  const d = dir();
  const inPath = join(d, 'zh.jsonl');
  const rows = [
    { instruction: '写一首关于春天的诗。', output: '春风拂面，花开满园。' },
    { instruction: '请写一首关于春天的诗。', output: '春雨绵绵。' },
    { instruction: '解释什么是机器学习。', input: '', output: '机器学习是让计算机从数据中学习的方法。' },
    { instruction: 'Explain what machine learning is.', output: 'It is learning from data.' },
  ];
  writeFileSync(inPath, rows.map((r) => JSON.stringify(r)).join('\n'));
  const r = await curateFile({ inPath, outPath: join(d, 'out.jsonl'), cfg: defaults, reportPath: join(d, 'report', 'zh.md') });
  assert.equal(r.lang, 'zh');
  assert.deepEqual(r.counts.byReason, { 'duplicate:rouge': 1, 'rule:wrong-language': 1 });
  const out = readFileSync(join(d, 'out.jsonl'), 'utf8').trim().split('\n');
  assert.equal(out.length, 2);
  const md = readFileSync(join(d, 'report', 'zh.md'), 'utf8');
  assert.match(md, /\| 写 \| 1 \| 诗 \(1\) \|/);
  assert.match(md, /\| 解释 \| 1 \|  \|/);
  for (const svg of ['zh-instruction-length.svg', 'zh-output-length.svg', 'zh-verbs.svg']) {
    assert.ok(existsSync(join(d, 'report', svg)), svg);
    assert.match(md, new RegExp(`\\]\\(${svg}\\)`));
  }
});

test('with a judge, kept samples below --min-score are rejected with reason "judge" and left out of the output', async () => {
  const d = dir();
  const inPath = join(d, 'data.json');
  writeFileSync(inPath, JSON.stringify(english));
  const client: JudgeClient = {
    model: 'm',
    async complete(req) {
      const good = req.messages[0]!.content.includes('French');
      return { text: JSON.stringify({ score: good ? 5 : 3, reason: good ? 'accurate' : 'thin' }), finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 };
    },
  };
  const r = await curateFile({
    inPath,
    outPath: join(d, 'out.json'),
    cfg: defaults,
    judge: { client, cfg: judgeConfigSchema.parse({}), promptName: 'judge' },
    minJudgeScore: 4.5,
  });
  assert.equal(r.judge?.scored, 2);
  assert.equal(r.counts.byReason['judge'], 1);
  assert.deepEqual(readAlpacaFile(join(d, 'out.json')).map((k) => k.input), ['I like tea.']);
});
