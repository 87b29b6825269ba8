import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDatasetReport, lengthStats } from '../../src/curate/report.js';
import { detectLang } from '../../src/data/sample.js';
import { writeMarkdownReport } from '../../src/curate/report-render.js';
import { histogramSvg, stackedBarsSvg } from '../../src/curate/svg-chart.js';
import { chineseVerbObject, englishVerbObject } from '../../src/curate/verb-object.js';

test('length statistics: mean, median, p90, max and bins that add up to the sample count', () => {
  const values = [1, 2, 2, 3, 3, 3, 4, 4, 10, 50];
  const s = lengthStats(values, 'words', 5);
  assert.equal(s.mean, 8.2);
  assert.equal(s.median, 3);
  assert.equal(s.p90, 10);
  assert.equal(s.max, 50);
  assert.equal(s.bins.reduce((a, b) => a + b.count, 0), values.length);
  // Bins of a round width up to the 99th percentile (10 here: width 2), the outlier 50 in the open last bin.
  assert.deepEqual(s.bins.map((b) => b.from), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(s.bins.map((b) => b.count), [1, 5, 2, 0, 0, 2]);
});

test('English root verbs and direct objects, as in the Self-Instruct analysis', () => {
  assert.deepEqual(englishVerbObject('Write a short story about a robot.'), { verb: 'write', object: 'story' });
  assert.deepEqual(englishVerbObject('Give three tips for staying healthy.'), { verb: 'give', object: 'tip' });
  assert.deepEqual(englishVerbObject('Can you suggest some names for a bakery?'), { verb: 'suggest', object: 'name' });
  assert.deepEqual(englishVerbObject('Tell me a joke about cats.'), { verb: 'tell', object: 'joke' });
  assert.deepEqual(englishVerbObject('Brainstorm possible solutions to reduce water waste.'), { verb: 'brainstorm', object: 'solution' });
  assert.deepEqual(englishVerbObject('Please explain how photosynthesis works.'), { verb: 'explain', object: null });
  assert.equal(englishVerbObject('What are the three primary colors?'), null);
  // Quantifiers compromise tags as nouns are looked past, or leave no object.
  assert.deepEqual(englishVerbObject('Find all the words that rhyme with cat.'), { verb: 'find', object: 'word' });
  assert.deepEqual(englishVerbObject('Translate the following into French.'), { verb: 'translate', object: null });
});

test('Chinese leading verbs and objects by the documented heuristic', () => {
  assert.deepEqual(chineseVerbObject('写一首关于春天的诗。'), { verb: '写', object: '诗' });
  assert.deepEqual(chineseVerbObject('请列出三个保持健康的建议。'), { verb: '列出', object: '建议' });
  assert.deepEqual(chineseVerbObject('总结下面的文章。'), { verb: '总结', object: '文章' });
  assert.deepEqual(chineseVerbObject('解释什么是机器学习。'), { verb: '解释', object: null });
  assert.equal(chineseVerbObject('为什么天空是蓝色的？'), null);
  // 把 sentences: the verb with a result complement, the object before it.
  assert.deepEqual(chineseVerbObject('把下面这段专业解释改写成孩子能听懂的话。'), { verb: '改写', object: '专业解释' });
  // A leading prepositional phrase: after its comma, or within a short one.
  assert.deepEqual(chineseVerbObject('根据下面的描述，为这家咖啡馆取5个名字。'), { verb: '取', object: '名字' });
  assert.deepEqual(chineseVerbObject('用一句话概括下面这段新闻的主要内容。'), { verb: '概括', object: '主要内容' });
  assert.deepEqual(chineseVerbObject('解下面的二元一次方程组。'), { verb: '解', object: '二元一次方程' });
});

test('a dataset report counts verbs with their objects, the share with input, and names its method', () => {
  const samples = [
    { instruction: 'Write a poem about love.', input: '', output: 'Roses.' },
    { instruction: 'Write a poem about rain.', input: '', output: 'Drops fall.' },
    { instruction: 'Write a story about a dog.', input: '', output: 'Once a dog.' },
    { instruction: 'Summarize the article.', input: 'Long text here.', output: 'Short.' },
    { instruction: 'What is love?', input: '', output: 'A feeling.' },
  ];
  const r = buildDatasetReport(samples, { lang: 'en' });
  assert.equal(r.samples, 5);
  assert.deepEqual(r.withInput, { count: 1, share: 0.2 });
  assert.equal(r.verbs.analysed, 5);
  assert.equal(r.verbs.withVerb, 4);
  assert.deepEqual(r.verbs.top[0], { verb: 'write', count: 3, objects: [{ noun: 'poem', count: 2 }, { noun: 'story', count: 1 }] });
  assert.match(r.verbs.method, /compromise/);
  assert.equal(r.lengths.input.bins.reduce((a, b) => a + b.count, 0), 1);
  // A cap on the tagger samples evenly.
  assert.equal(buildDatasetReport(samples, { lang: 'en', verbSample: 2 }).verbs.analysed, 2);
});

test('language detection follows the majority of instructions', () => {
  assert.equal(detectLang([{ instruction: '写诗' }, { instruction: '解释' }, { instruction: 'Explain' }]), 'zh');
  assert.equal(detectLang([{ instruction: 'Write' }, { instruction: '写' }]), 'en');
});

test('charts are standalone SVG with escaped labels', () => {
  const h = histogramSvg({ title: 'a < b & "c"', xLabel: 'words', bins: [{ from: 0, to: 5, count: 3 }, { from: 5, to: 10, count: 7 }], openEnded: true });
  assert.match(h, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(h, /a &lt; b &amp; &quot;c&quot;/);
  assert.match(h, />5\+</);
  assert.equal((h.match(/<rect /g) ?? []).length, 3);
  const s = stackedBarsSvg({ title: 't', rows: [{ label: '<write>', total: 10, segments: [{ label: 'poem', value: 6 }] }] });
  assert.match(s, /&lt;write&gt;/);
  assert.match(s, /other objects or none/);
});

test('the Markdown report links every chart it writes beside itself', () => {
  const d = mkdtempSync(join(tmpdir(), 'forge-report-'));
  const samples = Array.from({ length: 30 }, (_, i) => ({ instruction: `Write a poem about topic number ${i}.`, input: i % 3 ? '' : 'context', output: 'word '.repeat(i + 1) }));
  const written = writeMarkdownReport(join(d, 'r.md'), buildDatasetReport(samples, { lang: 'en', curation: { total: 40, byStatus: { kept: 30, duplicate: 10 }, byReason: { 'duplicate:rouge': 10 } } }), { title: 'T' });
  const files = readdirSync(d).sort();
  assert.deepEqual(files, ['r-input-length.svg', 'r-instruction-length.svg', 'r-output-length.svg', 'r-verbs.svg', 'r.md']);
  assert.equal(written.length, 5);
  const md = readFileSync(join(d, 'r.md'), 'utf8');
  for (const f of files.filter((x) => x.endsWith('.svg'))) assert.ok(md.includes(`](${f})`), f);
  assert.match(md, /\| duplicate \| 10 \| 25\.0% \|/);
  assert.match(md, /\| write \| 30 \| poem \(30\) \|/);
});
