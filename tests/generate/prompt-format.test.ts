import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPromptTemplate, renderPrompt } from '../../src/generate/prompt-template.js';
import { parseResponse } from '../../src/generate/parse-response.js';
import { promptsDir } from '../../src/paths.js';

const examples = [
  { instruction: 'Name three primary colours.', input: '', output: 'Red, yellow and blue.' },
  { instruction: 'Sort these numbers.', input: '3, 1, 2', output: '1, 2, 3' },
];

test("a prompt in stanford_alpaca's prompt.txt form (no front matter, no placeholders) loads and its answers parse", () => {
  const t = loadPromptTemplate(join(import.meta.dirname, 'fixtures', 'plain-prompt.txt'), 'en');
  assert.equal(t.format, 'alpaca');
  const prompt = renderPrompt(t, examples, 5);
  // As Alpaca's script builds it: the text, the numbered examples, then the next number's "Instruction:".
  assert.ok(prompt.startsWith('Please invent 20 varied tasks'));
  assert.match(prompt, /List of 20 tasks:\n###\n1\. Instruction: Name three primary colours\.\n1\. Input:\n<noinput>\n1\. Output:\nRed, yellow and blue\.\n###\n2\. Instruction: Sort these numbers\./);
  assert.ok(prompt.endsWith('###\n3. Instruction:'));
  const answer = ' Describe a sunrise.\n3. Input:\n<noinput>\n3. Output:\nThe sky turns orange.\n###\n4. Instruction: Translate "cat" to French.\n4. Input:\n<noinput>\n4. Output:\nChat.';
  const parsed = parseResponse(answer, t.format, { nextIndex: 3 });
  assert.deepEqual(parsed.tasks.map((x) => x.instruction), ['Describe a sunrise.', 'Translate "cat" to French.']);
});

test('the bundled generation prompts are the project\'s own text, not a restatement of Alpaca\'s', () => {
  for (const f of ['generate-alpaca.en.txt', 'generate-json.en.txt']) {
    const body = readFileSync(join(promptsDir(), f), 'utf8');
    for (const phrase of ['You are asked to come up with a set of', 'Try not to repeat the verb for each instruction', 'A GPT language model should be able to complete', 'we simply put']) {
      assert.ok(!body.includes(phrase), `${f} still says "${phrase}"`);
    }
  }
});

test('the bundled numbered-list prompts end where the parser expects the next task', () => {
  for (const lang of ['en', 'zh'] as const) {
    const t = loadPromptTemplate('alpaca', lang);
    const prompt = renderPrompt(t, examples, 5);
    assert.ok(prompt.trimEnd().endsWith('###\n3. Instruction:'), `${lang}: ${prompt.slice(-40)}`);
    assert.match(prompt, /7/);
  }
});
