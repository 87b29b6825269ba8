import { test } from 'node:test';
import assert from 'node:assert/strict';
import { curationConfigSchema } from '../../src/config/curation.js';
import { applyRules, ruleNames, selectRules, type RuleItem } from '../../src/curate/rules.js';
import type { Lang } from '../../src/data/sample.js';

const defaults = curationConfigSchema.parse({});
const item = (instruction: string, output = 'A suitable answer.', input = ''): RuleItem => ({ instruction, input, output });
const zh = (instruction: string, output = '这是一个合适的回答。', input = ''): RuleItem => ({ instruction, input, output });

/** Each rule in isolation (all others off), so a case shows that rule's own behaviour. */
function only(rule: string, it: RuleItem, lang: Lang) {
  return applyRules(it, selectRules(defaults, [rule]), lang);
}

interface Case {
  rule: string;
  en: { bad: RuleItem; good: RuleItem; reason?: RegExp };
  zh: { bad: RuleItem; good: RuleItem; reason?: RegExp };
}

const cases: Case[] = [
  {
    rule: 'control-chars',
    en: { bad: item('Summarize the text below.', 'The text\u0007 says hello.'), good: item('Summarize the text below.', 'Line one.\n\tLine two.'), reason: /output contains control character U\+0007/ },
    zh: { bad: zh('总结下面的文字内容。', '文字\uFFFD内容'), good: zh('总结下面的文字内容。', '第一行。\n第二行。'), reason: /U\+FFFD/ },
  },
  {
    rule: 'wrong-language',
    en: { bad: item('请解释什么是机器学习。'), good: item('Explain what machine learning is in two sentences.'), reason: /instruction is 0% Latin-script/ },
    zh: { bad: zh('Explain what machine learning is.'), good: zh('请解释一下 machine learning 的基本概念。'), reason: /instruction is 0% Chinese/ },
  },
  {
    rule: 'instruction-length',
    en: { bad: item('Name three fruits'), good: item('Name three tropical fruits.'), reason: /3 words, fewer than 4/ },
    zh: { bad: zh('写诗'), good: zh('写一首诗'), reason: /2 units/ },
  },
  {
    rule: 'leading-punctuation',
    en: { bad: item('"Describe the weather today in one sentence.'), good: item('Describe the weather today in one sentence.'), reason: /starts with """/ },
    zh: { bad: zh('——描述一下今天的天气。'), good: zh('描述一下今天的天气。'), reason: /starts with "—"/ },
  },
  {
    rule: 'leading-non-ascii',
    en: { bad: item('Écrivez a short note to a friend about the weekend.'), good: item('Write a short note to a friend about the weekend.'), reason: /non-ASCII "É"/ },
    // Chinese runs start with non-ASCII characters by nature: the rule only applies to English runs.
    zh: { bad: zh('写一封给朋友的短信。'), good: zh('写一封给朋友的短信。') },
  },
  {
    rule: 'merged-tasks',
    en: {
      bad: item('Give two synonyms for "happy".', 'Joyful, cheerful.\n2. Instruction: Give two antonyms for "happy".'),
      // Worked examples with unnumbered Input:/Output: lines and Markdown headings are legitimate.
      good: item('Write a function that adds two numbers.', '### Solution\nInput: 2, 3\nOutput: 5'),
      reason: /output holds a task marker "2\. Instruction:"/,
    },
    zh: { bad: zh('列出两个表示快乐的词。', '高兴、愉快\n###\n指令：列出两个反义词'), good: zh('列出两个表示快乐的词。', '高兴、愉快'), reason: /task marker/ },
  },
  {
    rule: 'blacklist',
    en: { bad: item('Draw a picture of a cat sitting on a mat.'), good: item('Describe a drawing technique used by cartoonists.'), reason: /contains "picture"|contains "draw"/ },
    zh: { bad: zh('根据下面的描述画一张图片。'), good: zh('描述一下你最喜欢的季节。'), reason: /contains "图片"|contains "画一"/ },
  },
  {
    rule: 'program-task',
    en: { bad: item('Write a program that prints the first ten primes.'), good: item('Explain what a prime number is.'), reason: /starts with "write a program"/ },
    zh: { bad: zh('编写一个程序，打印前十个质数。'), good: zh('解释什么是质数。'), reason: /编写一个程序/ },
  },
  {
    rule: 'placeholder-input',
    en: { bad: item('Describe the scene in this photo.', 'A beach.', '<image>'), good: item('Describe the scene in this text.', 'A beach.', 'Waves roll onto the sand.'), reason: /placeholder "<image>"/ },
    zh: { bad: zh('总结这篇文章的要点。', '要点如下。', 'https://example.com/article'), good: zh('总结这篇文章的要点。', '要点如下。', '人工智能正在改变医疗行业。'), reason: /only a URL/ },
  },
  {
    rule: 'empty-output',
    en: { bad: item('Give an example of a noun.', ' ... '), good: item('Give an example of a noun.', 'Dog'), reason: /no letters or digits/ },
    zh: { bad: zh('举一个名词的例子。', '无'), good: zh('举一个名词的例子。', '狗'), reason: /placeholder "无"/ },
  },
  {
    rule: 'refusal',
    en: {
      bad: item('Tell me your favourite food.', 'As an AI language model, I don\u2019t eat food.'),
      good: item('Tell me a popular food in Italy.', 'Pizza is a popular food in Italy.'),
      reason: /as an ai language model/,
    },
    zh: { bad: zh('告诉我你最喜欢的食物。', '作为一个人工智能，我不吃东西。'), good: zh('告诉我意大利的一种流行食物。', '披萨是意大利的流行食物。'), reason: /作为一个人工智能/ },
  },
  {
    rule: 'copied-output',
    en: {
      bad: item('Correct the grammar of this sentence.', 'She go to school  every day.', 'She go to school every day.'),
      // A case-only change is a real edit (e.g. a capitalisation task), not a copy.
      good: item('Capitalise the sentence properly.', 'She goes to school every day.', 'she goes to school every day.'),
      reason: /repeats the input/,
    },
    zh: { bad: zh('重复这句话。', '重复这句话。'), good: zh('改正这句话中的错别字。', '我今天很高兴。', '我今天很高心。'), reason: /repeats the instruction/ },
  },
];

test('every rule has a case here (the list of rules and the tests stay in step)', () => {
  assert.deepEqual(cases.map((c) => c.rule).sort(), [...ruleNames].sort());
});

for (const c of cases) {
  for (const lang of ['en', 'zh'] as const) {
    const { bad, good, reason } = c[lang];
    test(`rule ${c.rule} (${lang}): rejects the bad item with a reason, keeps the good one`, () => {
      const r = only(c.rule, bad, lang);
      if (c.rule === 'leading-non-ascii' && lang === 'zh') {
        assert.equal(r, null);
      } else {
        assert.equal(r?.rule, c.rule);
        if (reason) assert.match(r!.reason, reason);
      }
      assert.equal(only(c.rule, good, lang), null);
      // Switched off, the rule lets the bad item through.
      assert.equal(applyRules(bad, selectRules(defaults, ['none']), lang), null);
    });
  }
}

test('the first failing rule in rule order is the one reported', () => {
  const r = applyRules(item('Draw', '\u0000'), defaults, 'en');
  assert.equal(r?.rule, 'control-chars');
  assert.equal(applyRules(item('Draw a quick sketch of a house.'), defaults, 'en')?.rule, 'blacklist');
});

test('ordinary good items pass every rule in both languages', () => {
  assert.equal(applyRules(item('Give three tips for staying healthy.', '1. Eat a balanced diet.\n2. Exercise regularly.\n3. Sleep well.'), defaults, 'en'), null);
  assert.equal(applyRules(item('Translate the sentence into Chinese.', '我喜欢读书。', 'I like reading.'), defaults, 'en'), null);
  assert.equal(applyRules(zh('用Python写一个函数，计算两个数的和。', 'def add(a, b):\n    return a + b'), defaults, 'zh'), null);
  assert.equal(applyRules(zh('给出三个保持健康的建议。', '1. 均衡饮食。\n2. 经常锻炼。\n3. 保证睡眠。'), defaults, 'zh'), null);
});

test('blacklist words match whole words only, and multi-word entries across spaces', () => {
  const cfg = selectRules(defaults, ['blacklist']);
  assert.equal(applyRules(item('Describe the mapping between two sets.'), cfg, 'en'), null);
  assert.equal(applyRules(item('Describe the imagery in this poem.'), cfg, 'en'), null);
  assert.equal(applyRules(item('How do I go  to the station from here?'), cfg, 'en')?.reason, 'instruction contains "go to"');
  assert.equal(applyRules(item('Which MAP projection preserves area?'), cfg, 'en')?.reason, 'instruction contains "map"');
});

test('--rules names are checked, with the list of valid ones in the hint', () => {
  assert.throws(() => selectRules(defaults, ['blacklst']), (e: Error & { hint?: string }) => /unknown rule "blacklst"/.test(e.message) && /blacklist/.test(e.hint ?? ''));
  const cfg = selectRules(defaults, ['all']);
  assert.ok(Object.values(cfg.rules).every((r) => r.enabled));
});

test('empty-output counts letters and digits up to the configured minimum, in any script', () => {
  const cfg = selectRules(curationConfigSchema.parse({ rules: { emptyOutput: { minChars: 3 } } }), ['empty-output']);
  assert.equal(applyRules(item('Give a two-letter word.', 'o.k.'), cfg, 'en')?.reason, 'output has 2 letters/digits, fewer than 3');
  assert.equal(applyRules(item('Give a short word.', 'yes'), cfg, 'en'), null);
  assert.equal(applyRules(zh('说一个三个字的词。', '三个字'), cfg, 'zh'), null);
});

test('Chinese instructions may open with a quotation or title mark; English ones may not (Alpaca)', () => {
  const cfg = selectRules(defaults, ['leading-punctuation']);
  assert.equal(applyRules(zh('“必须”和“必需”有什么区别？'), cfg, 'zh'), null);
  assert.equal(applyRules(zh('《红楼梦》的作者是谁？'), cfg, 'zh'), null);
  assert.equal(applyRules(zh('（一）描述一下春天。'), cfg, 'zh')?.rule, 'leading-punctuation');
  assert.equal(applyRules(item('"Must" and "need": what is the difference?'), cfg, 'en')?.rule, 'leading-punctuation');
});
