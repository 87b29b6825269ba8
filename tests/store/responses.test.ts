import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore } from '../../src/store/responses.js';
import { StoreError } from '../../src/store/run-store.js';
import { makeRun } from '../ui/run-fixture.js';
import { runCli } from '../helpers/cli.js';

const sampling = { temperature: 0.8, topP: 1, maxTokens: 64, seed: 7 };

function fixture() {
  const { dir, store, ids } = makeRun([{ instruction: 'Name a colour.', output: 'Red.' }, { instruction: 'Name a fruit.', output: 'Apple.' }]);
  return { dir, store, rs: new ResponseStore(store), ids };
}

test('one live response per (item, idx): a second one is refused, an abandoned or failed one frees the slot', () => {
  const { store, rs, ids } = fixture();
  const id = rs.beginResponse(ids[0]!, 1, 'm', sampling);
  assert.throws(() => rs.beginResponse(ids[0]!, 1, 'm', sampling), (e: Error) => e instanceof StoreError && /already exists/.test(e.message));
  assert.equal(rs.abandonInFlight(), 1);
  const again = rs.beginResponse(ids[0]!, 1, 'm', sampling);
  rs.failResponse(again, 'gave up');
  const third = rs.beginResponse(ids[0]!, 1, 'm', sampling);
  rs.completeResponse(third, { text: 'Blue.', finishReason: 'stop', promptTokens: 3, completionTokens: 2, costUsd: 0.5 });
  // A late completion of the abandoned attempt changes nothing.
  rs.completeResponse(id, { text: 'late', finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 9 });
  assert.deepEqual(rs.listResponses().map((r) => [r.idx, r.text, r.sampling.seed]), [[1, 'Blue.', 7]]);
  assert.deepEqual(rs.counts(), { ok: 1, failed: 1, abandoned: 1, inFlight: 0, promptTokens: 3, completionTokens: 2, costUsd: 0.5 });
  assert.equal(rs.addSampleResponse(ids[0]!, 'Red.', 'gen', sampling), true);
  assert.equal(rs.addSampleResponse(ids[0]!, 'Red (edited).', 'gen', sampling), false, 'response 0 is written once');
  store.close();
});

test('human rankings stack: the latest not undone is current, undo goes back one decision at a time; the judge\'s is replaced', () => {
  const { dir, store, rs, ids } = fixture();
  rs.addHumanRanking(ids[0]!, 'order', [[1], [2]]);
  rs.addHumanRanking(ids[0]!, 'best-worst', [[2], [1]]);
  rs.addHumanRanking(ids[1]!, 'skip', null);
  assert.deepEqual(rs.currentRankings('human').get(ids[0]!)?.tiers, [[2], [1]]);
  assert.equal(rs.undoHumanRanking()?.itemId, ids[1]);
  assert.equal(rs.currentRankings('human').has(ids[1]!), false);
  rs.undoHumanRanking();
  assert.deepEqual(rs.currentRankings('human').get(ids[0]!)?.tiers, [[1], [2]], 'the earlier decision is current again');
  rs.setJudgeRanking(ids[0]!, [[1, 2]]);
  rs.setJudgeRanking(ids[0]!, [[2], [1]]);
  const judge = rs.currentRankings('judge').get(ids[0]!)!;
  assert.deepEqual(judge.tiers, [[2], [1]]);
  assert.equal(judge.ties, 0);
  store.close();
  // Everything is in the run database: a new connection sees the same.
  const reopened = RunStore.open(dir);
  assert.deepEqual(new ResponseStore(reopened).currentRankings('human').get(ids[0]!)?.tiers, [[1], [2]]);
  reopened.close();
});

test('stats counts respond\'s responses and their cost apart from generation\'s, with the run total', async () => {
  const { dir, store, rs, ids } = fixture();
  const id = rs.beginResponse(ids[0]!, 1, 'm', sampling);
  rs.completeResponse(id, { text: 'Blue.', finishReason: 'stop', promptTokens: 30, completionTokens: 20, costUsd: 0.25 });
  store.close();
  const text = await runCli(['stats', '--run', dir]);
  assert.equal(text.code, 0, text.stderr);
  // The fixture's generation cost $0.0010; the run total adds the responses'.
  assert.match(text.stdout, /^tokens: .*; cost \$0\.0010$/m);
  assert.match(text.stdout, /^responses: 1 answered, 30 prompt \+ 20 completion tokens; cost \$0\.2500 \(run total \$0\.2510\)$/m);
  const json = await runCli(['stats', '--run', dir, '--json']);
  const out = JSON.parse(json.stdout.trim().split('\n').at(-1)!) as { responses: { ok: number; costUsd: number } };
  assert.equal(out.responses.ok, 1);
  assert.equal(out.responses.costUsd, 0.25);
});
