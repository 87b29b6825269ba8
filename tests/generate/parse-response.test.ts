import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseInput, parseResponse } from '../../src/generate/parse-response.js';

test('JSON: salvages the array from prose and a code fence', () => {
  const answer = 'Here are the tasks you asked for:\n```json\n[{"instruction": "Name a prime.", "input": "", "output": "7"}, {"instruction": "Add.", "input": "2 and 3", "output": "5"}]\n```\nHope this helps!';
  const r = parseResponse(answer, 'json');
  assert.deepEqual(r.tasks, [
    { instruction: 'Name a prime.', input: '', output: '7' },
    { instruction: 'Add.', input: '2 and 3', output: '5' },
  ]);
  assert.equal(r.dropped.length, 0);
});

test('JSON: a truncated last item (finish_reason length) is dropped with its reason, the rest kept', () => {
  const answer = '[{"instruction": "A?", "input": "", "output": "a"}, {"instruction": "B?", "input": "", "output": "b"}, {"instruction": "C?", "inp';
  const r = parseResponse(answer, 'json', { finishReason: 'length' });
  assert.deepEqual(r.tasks.map((t) => t.instruction), ['A?', 'B?']);
  assert.equal(r.dropped.length, 1);
  assert.match(r.dropped[0]!.reason, /truncated/);
});

test('JSON: one malformed object does not lose its neighbours; each bad item says why', () => {
  const answer = '[{"instruction": "A?", "input": "", "output": "a"}, {"instruction": "B?" "output": "b"}, {"instruction": "", "output": "c"}, {"input": "x", "output": "d"}, {"instruction": "E?", "output": "e"}]';
  const r = parseResponse(answer, 'json');
  assert.deepEqual(r.tasks.map((t) => t.instruction), ['A?', 'E?']);
  assert.deepEqual(
    r.dropped.map((d) => d.index),
    [1, 2, 3],
  );
  assert.match(r.dropped[0]!.reason, /invalid JSON/);
  assert.match(r.dropped[1]!.reason, /empty instruction/);
  assert.match(r.dropped[2]!.reason, /missing "instruction"/);
});

test('JSON: an object wrapping the array, capitalised keys, null input and list outputs are accepted', () => {
  const r = parseResponse('{"tasks": [{"Instruction": "List two colours.", "Input": null, "Output": ["red", "blue"]}]}', 'json');
  assert.deepEqual(r.tasks, [{ instruction: 'List two colours.', input: '', output: 'red\nblue' }]);
});

test('JSON: an answer with no tasks at all is reported, not silently empty', () => {
  const r = parseResponse('I cannot help with that.', 'json');
  assert.equal(r.tasks.length, 0);
  assert.equal(r.dropped.length, 1);
  assert.match(r.dropped[0]!.reason, /no JSON tasks/);
});

test('numbered list: continues the prompt\'s "N. Instruction:", tolerates a skipped number, maps <noinput> to empty', () => {
  const answer = ' Give a synonym of happy.\n4. Input:\n<noinput>\n4. Output:\nJoyful.\n###\n6. Instruction: Reverse the word.\n6. Input:\nstressed\n6. Output:\ndesserts\n###\n7. Instruction: Translate to French.\n7. Input:\nHello\n7. Output:\nBonjour\n###';
  const r = parseResponse(answer, 'alpaca', { nextIndex: 4 });
  assert.deepEqual(r.tasks, [
    { instruction: 'Give a synonym of happy.', input: '', output: 'Joyful.' },
    { instruction: 'Reverse the word.', input: 'stressed', output: 'desserts' },
    { instruction: 'Translate to French.', input: 'Hello', output: 'Bonjour' },
  ]);
});

test('numbered list: the last item of a length-truncated answer is dropped, as Alpaca does', () => {
  const answer = '4. Instruction: Name a planet.\n4. Input:\n<noinput>\n4. Output:\nMars\n###\n5. Instruction: Name a moon.\n5. Input:\n<noinput>\n5. Output:\nTit';
  const r = parseResponse(answer, 'alpaca', { finishReason: 'length', nextIndex: 4 });
  assert.deepEqual(r.tasks.map((t) => t.output), ['Mars']);
  assert.match(r.dropped[0]!.reason, /truncated/);
});

test('numbered list: an item without its Output section is dropped with the reason', () => {
  const answer = '4. Instruction: Name a planet.\n4. Input:\n<noinput>\n###\n5. Instruction: Name a moon.\n5. Input:\nN/A\n5. Output:\nTitan';
  const r = parseResponse(answer, 'alpaca', { nextIndex: 4 });
  assert.deepEqual(r.tasks, [{ instruction: 'Name a moon.', input: '', output: 'Titan' }]);
  assert.match(r.dropped[0]!.reason, /missing "N. Output:"/);
});

test('numbered list: Chinese labels and full-width colons', () => {
  const answer = '4. 指令：解释成语。\n4. 输入：\n画蛇添足\n4. 输出：\n比喻做了多余的事。\n###\n5. Instruction： 写一句问候语。\n5. Input：\n<noinput>\n5. Output：\n你好！';
  const r = parseResponse(answer, 'alpaca', { nextIndex: 4 });
  assert.deepEqual(r.tasks, [
    { instruction: '解释成语。', input: '画蛇添足', output: '比喻做了多余的事。' },
    { instruction: '写一句问候语。', input: '', output: '你好！' },
  ]);
});

test('input variants that mean "no input" become empty; real inputs are kept', () => {
  for (const v of ['<noinput>', 'N/A', 'None', 'No input', ' none. ', '无', '无输入', '(none)']) assert.equal(normaliseInput(v), '', v);
  for (const v of ['Nonetheless, it rained.', 'NA NA NA', '0']) assert.equal(normaliseInput(v), v.trim());
});
