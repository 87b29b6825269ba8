import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forgeConfigSchema } from '../../src/config/schema.js';
import type { JudgeEvent } from '../../src/events.js';
import { runJudgeJob } from '../../src/respond/judge-job.js';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore } from '../../src/store/responses.js';
import { startFakeServer, type ChatBody } from '../helpers/fake-openai-server.js';
import { makeResponseRun, threeSamples } from './response-fixture.js';

const ratings: Record<string, number> = { 'Red, blue and yellow.': 8, 'Red, yellow, blue.': 8, 'Green.': 1, '2, 5, 9': 9, '9, 5, 2': 2, '2, 5, 9.': 7, 'Yes.': 5, 'Yes, 17 is prime.': 9, 'No.': 1 };

test('the judge job (the TUI\'s rank): rates every response, orders each sample, and reports it all as events', async () => {
  const server = await startFakeServer({
    behave: (_n, body: ChatBody) => {
      const text = /<<<RESPONSE\n([\s\S]*?)\nRESPONSE>>>/.exec(body.messages[0]!.content)![1]!;
      const v = ratings[text]!;
      return { kind: 'ok', text: JSON.stringify({ helpfulness: v, honesty: v, instruction_following: v, reason: 'ok' }) };
    },
  });
  const r = makeResponseRun(threeSamples());
  r.store.close();
  const config = forgeConfigSchema.parse({ generation: { model: 'judge-test', baseUrl: server.url, maxRetries: 0 } });
  const events: JudgeEvent[] = [];
  try {
    await runJudgeJob({ runDir: r.dir, config, mode: 'rank', signal: new AbortController().signal, onEvent: (e) => events.push(e) });
    assert.deepEqual(events[0], { type: 'start', runDir: r.dir, mode: 'rank', model: 'judge-test', concurrency: 8, rejudge: false });
    const last = events.filter((e) => e.type === 'progress').at(-1) as Extract<JudgeEvent, { type: 'progress' }>;
    assert.deepEqual([last.done, last.total, last.scored, last.failed], [9, 9, 9, 0]);
    const done = events.at(-1) as Extract<JudgeEvent, { type: 'done' }>;
    assert.equal(done.type, 'done');
    assert.equal(done.stop, 'done');
    assert.deepEqual(done.ranked, { ranked: 3, withTies: 1, incomplete: 0 });
    assert.match(done.message, /judged 9 responses: 9 scored.*; 3 samples ordered by the judge \(1 with ties\)/);
    const s = RunStore.open(r.dir);
    assert.equal(new ResponseStore(s).currentRankings('judge').size, 3, 'the orders are in the run, as curate --rank leaves them');
    s.close();
  } finally {
    await server.close();
  }
});

test('the judge job (the TUI\'s judge): scores the samples, and judge.minScore rejects those under it; a stop before it starts judges nothing', async () => {
  const server = await startFakeServer({ behave: () => ({ kind: 'ok', text: '{"score": 1, "reason": "thin"}' }) });
  const r = makeResponseRun(threeSamples());
  r.store.close();
  const config = forgeConfigSchema.parse({ generation: { model: 'judge-test', baseUrl: server.url, maxRetries: 0 }, judge: { minScore: 3 } });
  try {
    const stopped = new AbortController();
    stopped.abort();
    const early: JudgeEvent[] = [];
    await runJudgeJob({ runDir: r.dir, config, mode: 'judge', signal: stopped.signal, onEvent: (e) => early.push(e) });
    const first = early.at(-1) as Extract<JudgeEvent, { type: 'done' }>;
    assert.equal(first.stop, 'interrupted');
    assert.equal(first.notJudged, 3);
    assert.equal(server.requests.length, 0);

    const events: JudgeEvent[] = [];
    await runJudgeJob({ runDir: r.dir, config, mode: 'judge', signal: new AbortController().signal, onEvent: (e) => events.push(e) });
    const done = events.at(-1) as Extract<JudgeEvent, { type: 'done' }>;
    assert.equal(done.scored, 3);
    assert.equal(done.changed, 3);
    assert.match(done.message, /3 item\(s\) changed status under judge\.minScore 3/);
    const s = RunStore.open(r.dir);
    assert.deepEqual(s.listItems().map((i) => [i.status, i.reason, i.judgeScore]), [['rejected', 'judge', 1], ['rejected', 'judge', 1], ['rejected', 'judge', 1]]);
    s.close();
  } finally {
    await server.close();
  }
});
