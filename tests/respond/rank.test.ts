import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext, ParsedValues } from '../../src/cli/command.js';
import { command as curate } from '../../src/cli/commands/curate.js';
import { parseRankAnswer, tiersByRating } from '../../src/respond/rank-responses.js';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore, type StoredResponse } from '../../src/store/responses.js';
import { UsageError } from '../../src/errors.js';
import { startFakeServer, type ChatBody } from '../helpers/fake-openai-server.js';
import { makeResponseRun, threeSamples } from './response-fixture.js';
import { plainContext } from '../helpers/command-context.js';

async function run(values: ParsedValues, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = plainContext({ values, env, out: (l) => out.push(l), err: (l) => err.push(l), signal: new AbortController().signal });
  const code = await curate.run(ctx);
  return { code, out, err };
}

test('rank answers: three aspects 1–10 (numbers or numeric strings) and their mean; anything outside is not an answer', () => {
  const a = parseRankAnswer('```json\n{"helpfulness": 8, "honesty": "9", "instruction_following": 7, "reason": "Good."}\n```');
  assert.deepEqual(a, { ok: true, value: { ratings: { helpfulness: 8, honesty: 9, instructionFollowing: 7 }, rating: 8, reason: 'Good.' } });
  assert.equal(parseRankAnswer('{"helpfulness": 0, "honesty": 9, "instruction_following": 7}').ok, false);
  assert.equal(parseRankAnswer('{"helpfulness": 11, "honesty": 9, "instruction_following": 7}').ok, false);
  assert.equal(parseRankAnswer('{"helpfulness": 8, "honesty": 9}').ok, false);
  const thirds = parseRankAnswer('{"helpfulness": 8, "honesty": 8, "instruction_following": 7}');
  assert.ok(thirds.ok && thirds.value.rating === 7.667);
});

test('tiers by rating: best first, equal ratings share a tier (a tie), none while a response is unrated', () => {
  const r = (id: number, idx: number, rating: number | null) => ({ id, idx, rating }) as StoredResponse;
  assert.deepEqual(tiersByRating([r(1, 0, 7), r(2, 1, 9), r(3, 2, 7), r(4, 3, 2)]), [[2], [1, 3], [4]]);
  assert.equal(tiersByRating([r(1, 0, 7), r(2, 1, null)]), null);
});

/** The judge's scripted ratings, by response text. */
const scores: Record<string, [number, number, number]> = {
  'Red, blue and yellow.': [8, 9, 8],
  'Red, yellow, blue.': [8, 9, 8],
  'Green.': [1, 2, 1],
  '2, 5, 9': [9, 9, 9],
  '9, 5, 2': [2, 5, 1],
  '2, 5, 9.': [9, 8, 9],
  'Yes.': [5, 9, 6],
  'Yes, 17 is prime.': [9, 10, 9],
  'No.': [1, 1, 3],
};

function judgeServer() {
  const seen = new Map<string, number>();
  return startFakeServer({
    behave: (_n, body: ChatBody) => {
      const text = /<<<RESPONSE\n([\s\S]*?)\nRESPONSE>>>/.exec(body.messages[0]!.content)![1]!;
      const k = seen.get(text) ?? 0;
      seen.set(text, k + 1);
      // The first answer about "No." is prose: the repair message must get the JSON.
      if (text === 'No.' && k === 0) return { kind: 'ok', text: 'I would rate this poorly.' };
      const [h, o, i] = scores[text]!;
      return { kind: 'ok', text: JSON.stringify({ helpfulness: h, honesty: o, instruction_following: i, reason: `rated ${text}` }) };
    },
  });
}

test('curate --rank rates every response, repairs an unreadable answer, orders each sample with ties recorded; a re-run asks nothing', async () => {
  const server = await judgeServer();
  const r = makeResponseRun(threeSamples());
  r.store.close();
  const cfg = join(r.dir, '..', 'forge.yaml');
  writeFileSync(cfg, 'generation:\n  model: judge-test\n  maxRetries: 0\n');
  try {
    const res = await run({ run: r.dir, rank: true, config: cfg, 'base-url': server.url, rules: 'none' });
    assert.equal(res.code, 0, res.err.join('\n'));
    assert.match(res.err.join('\n'), /rank: judged 9 responses: 9 scored, 0 failed/);
    assert.match(res.err.join('\n'), /rank: 3 samples ordered by the judge \(1 with ties\)/);
    assert.equal(server.requests.length, 10, 'nine responses, one asked again after prose');
    const repaired = server.requests.filter((q) => q.messages.length === 3);
    assert.equal(repaired.length, 1);
    assert.match(repaired[0]!.messages[2]!.content, /could not be read/);

    const s = RunStore.open(r.dir);
    const rs = new ResponseStore(s);
    const green = rs.listResponses().find((x) => x.text === 'Green.')!;
    assert.deepEqual(green.ratings, { helpfulness: 1, honesty: 2, instructionFollowing: 1 });
    assert.equal(green.rating, 1.333);
    assert.equal(green.ratingReason, 'rated Green.');
    const judge = rs.currentRankings('judge');
    const [a, b, c] = r.ids as [number[], number[], number[]];
    assert.deepEqual(judge.get(r.itemIds[0]!)?.tiers, [[a[0]!, a[1]!], [a[2]!]], 'the two equal ratings are a tie');
    assert.equal(judge.get(r.itemIds[0]!)?.ties, 2);
    assert.deepEqual(judge.get(r.itemIds[1]!)?.tiers, [[b[0]!], [b[2]!], [b[1]!]]);
    assert.deepEqual(judge.get(r.itemIds[2]!)?.tiers, [[c[1]!], [c[0]!], [c[2]!]]);
    const rankRequests = s.connection.prepare(`SELECT COUNT(*) AS n FROM requests WHERE kind = 'rank'`).get() as { n: number };
    assert.equal(rankRequests.n, 10, 'every rating request is in the run\'s request log');
    s.close();

    const again = await run({ run: r.dir, rank: true, config: cfg, 'base-url': server.url, rules: 'none' });
    assert.equal(again.code, 0);
    assert.equal(server.requests.length, 10, 'rated responses are not rated again');
  } finally {
    await server.close();
  }
});

test('curate --rank is for runs, not files', async () => {
  await assert.rejects(run({ in: 'x.json', out: 'y.json', rank: true }), (e: Error) => e instanceof UsageError && /--rank ranks the candidate responses of a run/.test(e.message));
});
