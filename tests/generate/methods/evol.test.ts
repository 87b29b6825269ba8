import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evolOperators, loadEvolEqualTemplate, loadEvolTemplates, parseOperators, pickOperator, renderEvolPrompt } from '../../../src/generate/methods/evol-operators.js';
import { parseEvolvedTask } from '../../../src/generate/methods/evolved-task.js';
import { calledEqual, defaultEliminationSettings, eliminateResponse, eliminateTask } from '../../../src/generate/methods/evol-elimination.js';
import { EvolMethod, type EvolParent } from '../../../src/generate/methods/evol-method.js';
import { promptsDir } from '../../../src/paths.js';

test('--operators takes depth, breadth and single names, and refuses an unknown one', () => {
  assert.deepEqual(parseOperators('depth'), ['constraints', 'deepen', 'concretize', 'reasoning', 'complicate-input']);
  assert.deepEqual(parseOperators('breadth,deepen,deepen'), ['breadth', 'deepen']);
  assert.throws(() => parseOperators('harder'), /unknown operator "harder"/);
});

test('every operator has an EN and a ZH template with the task placeholder, and none uses WizardLM\'s markers', () => {
  for (const lang of ['en', 'zh'] as const) {
    const t = loadEvolTemplates(evolOperators, lang);
    assert.equal(t.size, evolOperators.length);
    for (const op of evolOperators) {
      const body = readFileSync(join(promptsDir(), `evol-${op}.${lang}.txt`), 'utf8');
      assert.doesNotMatch(body, /#(Given|Rewritten|Created) Prompt#/);
      assert.match(renderEvolPrompt(t.get(op)!, { instruction: 'Name a river.', input: '' }), /Name a river\./);
    }
  }
});

test('breadth is drawn rarely and only when chosen', () => {
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const draws = Array.from({ length: 600 }, () => pickOperator(['deepen', 'breadth'], random));
  const breadth = draws.filter((d) => d === 'breadth').length;
  assert.ok(breadth > 50 && breadth < 160, `breadth drawn ${breadth} times of 600`);
  assert.ok(Array.from({ length: 50 }, () => pickOperator(['deepen', 'reasoning'], random)).every((d) => d !== 'breadth'));
});

test('the evolved task is read out of labels, fences and an Input: line', () => {
  assert.deepEqual(parseEvolvedTask('New task: Sort the list by date.\nInput:\n3 May, 1 May', 'stop'), { ok: true, task: { instruction: 'Sort the list by date.', input: '3 May, 1 May' } });
  assert.deepEqual(parseEvolvedTask('```\nExplain tides.\n```', 'stop'), { ok: true, task: { instruction: 'Explain tides.', input: '' } });
  assert.equal(parseEvolvedTask('   ', 'stop').ok, false);
  assert.equal(parseEvolvedTask('Explain', 'length').ok, false);
});

test('elimination: no new information, copied template words, refusals and short responses', () => {
  const s = defaultEliminationSettings;
  const parent = { instruction: 'Explain why the sky is blue.', input: '' };
  assert.equal(eliminateTask(parent, { instruction: 'Explain why the sky is blue.', input: '' }, 'x {{instruction}}', s, false)?.reason, 'evol:no-new-information');
  assert.equal(eliminateTask(parent, { instruction: 'Explain why the sky is blue, in under 50 words, for a child who knows no physics.', input: '' }, 'x {{instruction}}', s, false), null);
  // Breadth writes a different task on purpose: similarity is no reason there.
  assert.equal(eliminateTask(parent, parent, 'x {{instruction}}', s, true), null);
  assert.equal(eliminateTask(parent, { instruction: '#Rewritten Prompt#: Explain the sky in detail.', input: '' }, 'x {{instruction}}', s, false)?.reason, 'evol:copied-template');
  const template = 'Your job is to make a task harder by giving it one more condition to satisfy.\n{{instruction}}';
  assert.equal(eliminateTask(parent, { instruction: 'Your job is to make a task harder by giving it one more condition to satisfy. Sky?', input: '' }, template, s, false)?.reason, 'evol:copied-template');
  assert.equal(eliminateResponse("I'm sorry, but as an AI I cannot do that.", s)?.reason, 'evol:refusal');
  assert.equal(eliminateResponse('Blue.', s)?.reason, 'evol:short-response');
  assert.equal(eliminateResponse('Sunlight scatters off air molecules, and blue light scatters most.', s), null);
});

test('an evol method runs its rounds in order, each on what the round before kept, with provenance', () => {
  const templates = loadEvolTemplates(['deepen'], 'en');
  const roots: EvolParent[] = [1, 2].map((id) => ({ id, rootId: id, round: 0, instruction: `Root task number ${id}.`, input: '' }));
  const m = new EvolMethod({ round: 1, pending: roots, keptThisRound: [], rounds: 2, operators: ['deepen'], templates, elimination: defaultEliminationSettings, random: () => 0.5 });
  let nextId = 10;
  const items: Array<{ id: number; parentId: number | null; rootId: number | null; round: number | null }> = [];
  for (let guard = 0; guard < 20 && !m.exhausted; guard++) {
    const steps = [];
    for (let s = m.start(); s; s = m.start()) steps.push(s);
    for (const step of steps) {
      const first = m.ingest(step, { text: `Deeper: ${step.state.parent.instruction} Compare two causes and weigh them.`, finishReason: 'stop' });
      assert.ok('then' in first);
      const done = m.ingest(first.then, { text: 'A full and careful answer to the task.', finishReason: 'stop' });
      assert.ok('item' in done);
      const id = nextId++;
      items.push({ id, ...done.item.provenance });
      m.committed(done.item, id, true);
    }
  }
  assert.ok(m.exhausted);
  assert.deepEqual(items.map((i) => i.round), [1, 1, 2, 2]);
  const round2 = items.filter((i) => i.round === 2);
  assert.deepEqual(round2.map((i) => i.parentId).sort(), items.filter((i) => i.round === 1).map((i) => i.id).sort());
  assert.deepEqual(round2.map((i) => i.rootId).sort(), [1, 2]);
});

test("the model's equality check: an evolution the model calls equal to its parent is dropped as no new information, the others go on to their response", () => {
  const templates = loadEvolTemplates(['deepen'], 'en');
  const equalTemplate = loadEvolEqualTemplate('en');
  const roots: EvolParent[] = [1, 2].map((id) => ({ id, rootId: id, round: 0, instruction: `Root task number ${id}.`, input: '' }));
  const m = new EvolMethod({ round: 1, pending: roots, keptThisRound: [], rounds: 1, operators: ['deepen'], templates, elimination: defaultEliminationSettings, random: () => 0.5, equalTemplate });
  const [a, b] = [m.start()!, m.start()!];
  const compareA = m.ingest(a, { text: 'Explain root task number 1 and weigh two of its causes.', finishReason: 'stop' });
  assert.ok('then' in compareA && compareA.then.state.stage === 'compare');
  const prompt = compareA.then.request.kind === 'chat' ? compareA.then.request.messages[0]!.content : '';
  assert.match(prompt, /Root task number 1\.[\s\S]*Explain root task number 1 and weigh two of its causes\./, 'the parent first, the evolution second');
  const dropped = m.ingest(compareA.then, { text: 'Equal', finishReason: 'stop' });
  assert.ok('item' in dropped && dropped.item.drop?.reason === 'evol:no-new-information' && /model called it equal/.test(dropped.item.drop.detail));
  const compareB = m.ingest(b, { text: 'Explain root task number 2 for a child, in three steps.', finishReason: 'stop' });
  assert.ok('then' in compareB);
  const respond = m.ingest(compareB.then, { text: 'Not equal', finishReason: 'stop' });
  assert.ok('then' in respond && respond.then.state.stage === 'respond');
  assert.deepEqual(respond.then.request, { kind: 'chat', messages: [{ role: 'user', content: 'Explain root task number 2 for a child, in three steps.' }] });
  assert.equal(calledEqual('**Equal**'), true);
  assert.equal(calledEqual('相同'), true);
  assert.equal(calledEqual('不相同'), false);
  assert.equal(calledEqual('I think they differ a little.'), false, 'an unclear answer keeps the evolution');
});
