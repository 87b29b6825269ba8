import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plainContext } from '../helpers/command-context.js';
import { command as stats } from '../../src/cli/commands/stats.js';
import { RunStore, type NewItem } from '../../src/store/run-store.js';
import { ProvenanceStore } from '../../src/store/provenance-store.js';
import { evolRoundGrowth } from '../../src/curate/round-growth.js';

/** A run of 2 inputs evolved over 2 rounds, each round longer and with more conditions; round 2 is judged. */
function evolRun(): string {
  const runDir = join(mkdtempSync(join(tmpdir(), 'forge-growth-')), 'run');
  const store = RunStore.open(runDir, { create: true });
  store.setMeta('created_at', new Date().toISOString());
  const prov = new ProvenanceStore(store);
  prov.importSources([{ instruction: 'Name a river.', input: '', output: 'The Nile.' }, { instruction: 'Name a lake.', input: '', output: 'Baikal.' }]);
  let parents = prov.keptOfRound(0);
  const texts = ['{p} You must give its length and at least two countries it crosses.', '{p} Answer in exactly three sentences, without using the word "water", and include one number.'];
  for (const round of [1, 2]) {
    const items: NewItem[] = [];
    const rows = parents.map((p, idx) => {
      const id = store.allocateItemId();
      items.push({ id, idx, instruction: texts[round - 1]!.replace('{p}', p.instruction), input: '', output: 'An answer.', status: 'kept', reason: null, duplicateOf: null, similarity: null, similar: [] });
      return { itemId: id, method: 'evol', parentId: p.id, rootId: p.rootId, operator: 'constraints', round };
    });
    const dropId = store.allocateItemId();
    items.push({ id: dropId, idx: items.length, instruction: parents[0]!.instruction, input: '', output: '', status: 'dropped', reason: 'evol:no-new-information', duplicateOf: null, similarity: null, similar: [] });
    rows.push({ itemId: dropId, method: 'evol', parentId: parents[0]!.id, rootId: parents[0]!.rootId, operator: 'deepen', round });
    const req = store.nextRequestId();
    store.beginRequest({ method: 'evol' }, 'generate', req);
    store.completeRequest(req, { raw: '', finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 }, items);
    prov.record(rows);
    parents = prov.keptOfRound(round);
  }
  for (const [i, p] of parents.entries()) store.setJudge(p.id, 4 + i, 'harder');
  store.close();
  return runDir;
}

test('evol round growth: instruction length and constraint words rise round by round, relative to the input, with the judge score where judged', () => {
  const store = RunStore.open(evolRun());
  const g = evolRoundGrowth(new ProvenanceStore(store));
  store.close();
  assert.deepEqual(g.map((r) => r.round), [0, 1, 2]);
  assert.equal(g[0]!.lengthGrowth, 1);
  assert.ok(g[1]!.lengthGrowth! > 1 && g[2]!.lengthGrowth! > g[1]!.lengthGrowth!);
  assert.equal(g[0]!.meanConstraints, 0);
  assert.ok(g[2]!.meanConstraints > g[1]!.meanConstraints && g[1]!.meanConstraints > 0);
  assert.deepEqual(g.map((r) => r.meanJudgeScore), [null, null, 4.5]);
  assert.deepEqual(g[1]!.drops, { 'evol:no-new-information': 1 });
});

test('stats --run shows the evol rounds in its text, --json and the Markdown report', async () => {
  const runDir = evolRun();
  const run = async (values: Record<string, string | boolean>) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await stats.run(plainContext({ values: { run: runDir, ...values }, out: (l) => out.push(l), err: (l) => err.push(l), signal: new AbortController().signal }));
    assert.equal(code, 0, err.join('\n'));
    return out;
  };
  const text = (await run({})).join('\n');
  assert.match(text, /evol rounds/);
  assert.match(text, /round 0 \(input\): 2 of 2 kept, 12\.5 chars, 0\.00 constraints, not judged/);
  assert.match(text, /round 2: 2 of 3 kept, [\d.]+ chars \(×[\d.]+\), [\d.]+ constraints, judge 4\.50; dropped evol:no-new-information 1/);
  const json = JSON.parse((await run({ json: true })).join('')) as { evolRounds: Array<{ round: number; kept: number }> };
  assert.deepEqual(json.evolRounds.map((r) => [r.round, r.kept]), [[0, 2], [1, 2], [2, 2]]);
  const md = join(runDir, '..', 'report.md');
  await run({ report: md });
  const report = readFileSync(md, 'utf8');
  assert.match(report, /## Evol rounds/);
  assert.match(report, /\| round 2 \| 3 \| 2 \|/);
});
