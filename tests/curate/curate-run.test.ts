import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, type NewItem } from '../../src/store/run-store.js';
import { curationConfigSchema, judgeConfigSchema } from '../../src/config/curation.js';
import { judgeRun, recurateRun } from '../../src/curate/curate-run.js';
import { loadJudgePrompt, type JudgeClient } from '../../src/curate/judge.js';

const defaults = curationConfigSchema.parse({});
const withThreshold = (t: number) => curationConfigSchema.parse({ dedup: { rougeThreshold: t } });

/** A run as generation leaves it, with the seeds file it was made from. */
function makeRun(texts: Array<Partial<NewItem> & { instruction: string; output: string }>): { dir: string; store: RunStore; ids: number[] } {
  const root = mkdtempSync(join(tmpdir(), 'forge-curate-'));
  const seeds = join(root, 'seeds.jsonl');
  writeFileSync(
    seeds,
    [
      { id: 'seed_task_0', name: 'breakfast', instruction: 'Is there anything I can eat for a breakfast that doesn\'t include eggs?', instances: [{ input: '', output: 'Yes: oatmeal.' }], is_classification: false },
      { id: 'seed_task_1', name: 'antonym', instruction: 'Give me an antonym of the given word.', instances: [{ input: 'happy', output: 'sad' }], is_classification: false },
    ]
      .map((s) => JSON.stringify(s))
      .join('\n'),
  );
  const dir = join(root, 'run');
  const store = RunStore.open(dir, { create: true });
  store.setMeta('lang', 'en');
  store.setMeta('seeds_path', seeds);
  const req = store.beginRequest([]);
  const rows: NewItem[] = texts.map((t, idx) => ({ id: store.allocateItemId(), idx, input: '', status: 'kept', reason: null, duplicateOf: null, similarity: null, similar: [], ...t }));
  store.completeRequest(req, { raw: '[]', finishReason: 'stop', promptTokens: 10, completionTokens: 10, costUsd: 0 }, rows);
  return { dir, store, ids: rows.map((r) => r.id) };
}

const good = [
  { instruction: 'Write a short poem about the sea at night.', output: 'Waves whisper under the moon.' },
  { instruction: 'Write a short poem about the sea at dawn.', output: 'Light spills over the water.' }, // near-duplicate of 1 (F1 8/9)
  { instruction: 'Draw a picture of a lighthouse.', output: 'I cannot draw.' }, // blacklist
  { instruction: 'Give me an antonym of the given word.', input: 'cold', output: 'hot' }, // near-duplicate of a seed
  { instruction: 'Explain how a bicycle gear system works.', output: 'Gears change the ratio between pedal and wheel turns.' },
  { instruction: '', output: 'garbage the parser could not read', status: 'dropped' as const, reason: 'parse:no-json' },
];

test('re-curation applies rules and duplicates in arrival order against the seeds, and leaves dropped items alone', () => {
  const { store, ids } = makeRun(good);
  const r = recurateRun(store, defaults);
  assert.equal(r.total, 5);
  assert.equal(r.seeds, 2);
  const by = (i: number) => store.getItem(ids[i]!)!;
  assert.equal(by(0).status, 'kept');
  assert.deepEqual([by(1).status, by(1).reason, by(1).duplicateOf], ['duplicate', 'duplicate:rouge', String(ids[0])]);
  assert.equal(by(1).similarity, 0.8888888888888888);
  assert.deepEqual([by(2).status, by(2).reason], ['rejected', 'rule:blacklist']);
  assert.deepEqual([by(3).status, by(3).duplicateOf], ['duplicate', 'seed:seed_task_1']);
  assert.equal(by(4).status, 'kept');
  assert.deepEqual([by(5).status, by(5).reason], ['dropped', 'parse:no-json']);
  assert.deepEqual(r.after.byStatus, { kept: 2, duplicate: 2, rejected: 1 });
  // Running again with the same settings changes nothing.
  assert.equal(recurateRun(store, defaults).changed, 0);
});

test('raising the threshold recomputes statuses and never touches review decisions or edits', () => {
  const { store, ids } = makeRun(good);
  recurateRun(store, defaults);
  store.setReview(ids[1]!, 'accepted');
  store.editItem(ids[4]!, { instruction: 'Explain how bicycle gears work.', input: '', output: 'They change the ratio.' });
  const before1 = store.getItem(ids[1]!)!;
  const r = recurateRun(store, withThreshold(0.9));
  assert.ok(r.changed >= 1);
  const after1 = store.getItem(ids[1]!)!;
  assert.equal(after1.status, 'kept');
  assert.equal(after1.duplicateOf, null);
  assert.equal(after1.review, 'accepted');
  assert.equal(after1.reviewedAt, before1.reviewedAt);
  // The kept near-duplicate still points at its most similar earlier item, for the reviewer.
  assert.deepEqual(after1.similar, [{ id: String(ids[0]), score: 0.8888888888888888 }]);
  const edited = store.getItem(ids[4]!)!;
  assert.equal(edited.instruction, 'Explain how bicycle gears work.');
  assert.equal(edited.original?.instruction, 'Explain how a bicycle gear system works.');
  // And back: the same item is a duplicate again at 0.7.
  recurateRun(store, defaults);
  assert.equal(store.getItem(ids[1]!)!.status, 'duplicate');
  assert.equal(store.getItem(ids[1]!)!.review, 'accepted');
});

test('a judge threshold rejects low-scored kept samples with reason "judge"; lowering it restores them', () => {
  const { store, ids } = makeRun(good);
  store.setJudge(ids[0]!, 2.5, 'vague');
  store.setJudge(ids[4]!, 4.5, 'good');
  recurateRun(store, defaults, { minJudgeScore: 4.5 });
  assert.deepEqual([store.getItem(ids[0]!)!.status, store.getItem(ids[0]!)!.reason], ['rejected', 'judge']);
  assert.equal(store.getItem(ids[4]!)!.status, 'kept');
  // The rejected sample still counts as the earlier item its near-duplicate repeats.
  assert.equal(store.getItem(ids[1]!)!.status, 'duplicate');
  recurateRun(store, defaults, { minJudgeScore: 2 });
  assert.equal(store.getItem(ids[0]!)!.status, 'kept');
});

test('judgeRun scores kept samples without a score, records every request, and continues where it stopped', async () => {
  const { store, ids } = makeRun(good);
  recurateRun(store, defaults);
  store.setJudge(ids[0]!, 5, 'already judged');
  const seen: string[] = [];
  const client: JudgeClient = {
    model: 'm',
    async complete(req) {
      seen.push(req.messages[0]!.content);
      return { text: '{"score": 4, "reason": "fine"}', finishReason: 'stop', promptTokens: 50, completionTokens: 10, costUsd: 0.0001 };
    },
  };
  const out = await judgeRun(store, { client, prompt: loadJudgePrompt('judge', 'en'), cfg: judgeConfigSchema.parse({}), lang: 'en' });
  assert.equal(out.scored, 1); // only ids[4]: ids[0] had a score, the others are not kept
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, /bicycle gear/);
  assert.equal(store.getItem(ids[4]!)!.judgeScore, 4);
  assert.equal(store.getItem(ids[0]!)!.judgeScore, 5);
  assert.equal(store.summary().judgeRequests, 1);
  const again = await judgeRun(store, { client, prompt: loadJudgePrompt('judge', 'en'), cfg: judgeConfigSchema.parse({ rejudge: true }), lang: 'en' });
  assert.equal(again.scored, 2);
});

test('a failed re-judge (a judge that answers garbage) keeps every score there was; a sample with none records why', async () => {
  const { store, ids } = makeRun(good);
  recurateRun(store, defaults);
  store.setJudge(ids[0]!, 5, 'already judged');
  const garbage: JudgeClient = {
    model: 'm',
    complete: async () => ({ text: 'I cannot rate this.', finishReason: 'stop', promptTokens: 50, completionTokens: 10, costUsd: 0.0001 }),
  };
  const out = await judgeRun(store, { client: garbage, prompt: loadJudgePrompt('judge', 'en'), cfg: judgeConfigSchema.parse({ rejudge: true, parseRetries: 0 }), lang: 'en' });
  assert.deepEqual([out.scored, out.failed], [0, 2]);
  assert.deepEqual([store.getItem(ids[0]!)!.judgeScore, store.getItem(ids[0]!)!.judgeReason], [5, 'already judged']);
  assert.equal(store.getItem(ids[4]!)!.judgeScore, null);
  assert.match(store.getItem(ids[4]!)!.judgeReason ?? '', /^unparseable: /);
});
