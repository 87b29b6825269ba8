import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHINESE_SYSTEM_PROMPT, cutAtEndOfTurn, loadMagpieTemplate, magpiePrefix } from '../../../src/generate/methods/magpie-template.js';
import { magpieFilter } from '../../../src/generate/methods/magpie-filters.js';
import { MagpieMethod } from '../../../src/generate/methods/magpie-method.js';
import { defaultMagpieFilterSettings } from '../../../src/generate/methods/magpie-filters.js';

test('the llama3 pre-query is exactly the chat template\'s, and zh puts a Chinese system turn in front', () => {
  const t = loadMagpieTemplate('llama3');
  assert.equal(magpiePrefix(t, 'en'), '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n');
  assert.equal(magpiePrefix(t, 'zh'), `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${CHINESE_SYSTEM_PROMPT}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n`);
  assert.equal(magpiePrefix(loadMagpieTemplate('chatml'), 'en'), '<|im_start|>user\n');
});

test('the instruction is cut at the end of turn, or at a next header the server did not stop at', () => {
  const t = loadMagpieTemplate('llama3');
  assert.equal(cutAtEndOfTurn('How do tides work?<|eot_id|><|start_header_id|>assistant', t), 'How do tides work?');
  assert.equal(cutAtEndOfTurn('How do tides work?\n<|start_header_id|>assistant', t), 'How do tides work?');
  assert.equal(cutAtEndOfTurn('  How do tides work?  ', t), 'How do tides work?');
});

test('a template file gives pre- and post-query, and a bad one names the file and the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'magpie-'));
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ preQuery: '<s>[USER]', postQuery: '[/USER]' }));
  const t = loadMagpieTemplate(good);
  assert.equal(magpiePrefix(t, 'en'), '<s>[USER]');
  assert.equal(cutAtEndOfTurn('Write a haiku.[/USER] [ASSISTANT]', t), 'Write a haiku.');
  assert.throws(() => magpiePrefix(t, 'zh'), /systemPreQuery/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ preQuery: '<s>' }));
  assert.throws(() => loadMagpieTemplate(bad), (e: Error) => e.message.includes('bad.json') && e.message.includes('postQuery'));
  assert.throws(() => loadMagpieTemplate('mistral'), /no Magpie template "mistral"/);
});

test("Magpie's filters drop empty, short, long, repeated, wrong-language and answer-like instructions", () => {
  assert.equal(magpieFilter('', 'en')?.reason, 'magpie:empty');
  assert.equal(magpieFilter('Hi?', 'en')?.reason, 'magpie:too-short');
  assert.equal(magpieFilter('Explain this. '.repeat(200), 'en')?.reason, 'magpie:too-long');
  assert.equal(magpieFilter('List three rivers please\nList three rivers please', 'en')?.reason, 'magpie:repeated-lines');
  assert.equal(magpieFilter('请解释一下潮汐是怎么形成的？', 'en')?.reason, 'magpie:wrong-language');
  assert.equal(magpieFilter('How do tides form on Earth?', 'zh')?.reason, 'magpie:wrong-language');
  assert.equal(magpieFilter("Sure! Here's a poem about the sea.", 'en')?.reason, 'magpie:answer-not-instruction');
  assert.equal(magpieFilter('How do tides form on Earth?', 'en'), null);
  assert.equal(magpieFilter('请解释一下潮汐是怎么形成的？', 'zh'), null);
});

test('a Magpie step asks /v1/completions for the prefix, then answers a kept instruction through chat', () => {
  const m = new MagpieMethod({ template: loadMagpieTemplate('llama3'), lang: 'en', filters: defaultMagpieFilterSettings });
  const step = m.start();
  assert.deepEqual(step.request.kind === 'completion' && step.request.prompt, '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n');
  const first = m.ingest(step, { text: 'What makes a bridge stable?<|eot_id|>', finishReason: 'stop' });
  assert.ok('then' in first);
  assert.deepEqual(first.then.request, { kind: 'chat', messages: [{ role: 'user', content: 'What makes a bridge stable?' }] });
  const done = m.ingest(first.then, { text: 'Triangles spread the load.', finishReason: 'stop' });
  assert.ok('item' in done && done.item.drop === null && done.item.output === 'Triangles spread the load.');
  const dropped = m.ingest(m.start(), { text: 'Sure, here is the answer you wanted.<|eot_id|>', finishReason: 'stop' });
  assert.ok('item' in dropped && dropped.item.drop?.reason === 'magpie:answer-not-instruction');
});

test('a repeated instruction is dropped before its response is asked, also after a restart', () => {
  const m = new MagpieMethod({ template: loadMagpieTemplate('llama3'), lang: 'en', filters: defaultMagpieFilterSettings, askedBefore: ['How do  tides form?'] });
  const first = m.ingest(m.start(), { text: 'What makes a bridge stable?<|eot_id|>', finishReason: 'stop' });
  assert.ok('then' in first);
  const again = m.ingest(m.start(), { text: 'what makes a bridge   stable?<|eot_id|>', finishReason: 'stop' });
  assert.ok('item' in again && again.item.drop?.reason === 'magpie:repeated-instruction');
  const before = m.ingest(m.start(), { text: 'How do tides form?<|eot_id|>', finishReason: 'stop' });
  assert.ok('item' in before && before.item.drop?.reason === 'magpie:repeated-instruction', 'asked by the run before the restart');
});
