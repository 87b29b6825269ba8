import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCjk, rougeTokens } from '../../src/curate/rouge-tokenize.js';

// Expected values follow rouge_score's tokenize(): lower(), re.sub(r"[^a-z0-9]+", " "), split, keep ^[a-z0-9]+$.
test('lowercases and splits on every run of characters outside [a-z0-9], as rouge_score does', () => {
  assert.deepEqual(rougeTokens('Give three tips for staying healthy.'), ['give', 'three', 'tips', 'for', 'staying', 'healthy']);
  assert.deepEqual(rougeTokens("Don't stop-believing!!"), ['don', 't', 'stop', 'believing']);
  assert.deepEqual(rougeTokens('snake_case and CamelCase'), ['snake', 'case', 'and', 'camelcase']);
  assert.deepEqual(rougeTokens('  \t\n '), []);
  assert.deepEqual(rougeTokens('?!...'), []);
});

test('digits are token characters: numbers split at dots, commas and signs', () => {
  assert.deepEqual(rougeTokens('Pi is 3.14, not -3,14 or 1e10'), ['pi', 'is', '3', '14', 'not', '3', '14', 'or', '1e10']);
  assert.deepEqual(rougeTokens('COVID-19 in 2020s'), ['covid', '19', 'in', '2020s']);
});

test('accented letters are separators, so accented words break apart exactly like rouge_score', () => {
  assert.deepEqual(rougeTokens('café'), ['caf']);
  assert.deepEqual(rougeTokens('naïve résumé'), ['na', 've', 'r', 'sum']);
  assert.deepEqual(rougeTokens('Ärger über Öl'), ['rger', 'ber', 'l']);
});

test('characters whose Unicode lowercase is ASCII become ASCII, as with Python str.lower()', () => {
  // KELVIN SIGN lowercases to "k"; LATIN CAPITAL I WITH DOT lowercases to "i" + COMBINING DOT ABOVE.
  assert.deepEqual(rougeTokens('5\u212A run'), ['5k', 'run']);
  assert.deepEqual(rougeTokens('\u0130stanbul'), ['i', 'stanbul']);
});

test('each CJK character is one token, with ASCII words kept whole and CJK punctuation a separator', () => {
  assert.deepEqual(rougeTokens('写一首关于春天的诗。'), ['写', '一', '首', '关', '于', '春', '天', '的', '诗']);
  assert.deepEqual(rougeTokens('用Python写一个函数，计算n!'), ['用', 'python', '写', '一', '个', '函', '数', '计', '算', 'n']);
  assert.deepEqual(rougeTokens('日本語のテキスト'), ['日', '本', '語', 'の', 'テ', 'キ', 'ス', 'ト']);
  assert.deepEqual(rougeTokens('한국어 문장'), ['한', '국', '어', '문', '장']);
});

test('hasCjk tells Chinese, Japanese and Korean text from Latin text', () => {
  assert.equal(hasCjk('写诗'), true);
  assert.equal(hasCjk('カタカナ'), true);
  assert.equal(hasCjk('한'), true);
  assert.equal(hasCjk('Write a poem, naïvely.'), false);
});
