import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext, ParsedValues } from '../../src/cli/command.js';
import { command as exportCommand } from '../../src/cli/commands/export.js';
import { pairsFromTiers } from '../../src/pairs/preference-pairs.js';
import { UsageError } from '../../src/errors.js';
import { makeResponseRun, threeSamples } from '../respond/response-fixture.js';
import { plainContext } from '../helpers/command-context.js';

async function run(values: ParsedValues) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = plainContext({ values, out: (l) => out.push(l), err: (l) => err.push(l), signal: new AbortController().signal });
  const code = await exportCommand.run(ctx);
  return { code, out, err };
}

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('pairs from tiers: best-worst takes the top against the bottom; all takes every cross-tier pair, never a tie', () => {
  assert.deepEqual(pairsFromTiers([[7], [8, 9], [10]], 'best-worst'), [[7, 10]]);
  assert.deepEqual(pairsFromTiers([[7], [8, 9], [10]], 'all'), [
    [7, 8],
    [7, 9],
    [7, 10],
    [8, 10],
    [9, 10],
  ]);
  assert.deepEqual(pairsFromTiers([[7, 8, 9]], 'all'), [], 'all tied: no pair');
  assert.deepEqual(pairsFromTiers([[7, 8], [9]], 'best-worst'), [[7, 9]]);
});

/**
 * Sample 1: a person ranked it (and so did the judge, differently): the person's ranking wins.
 * Sample 2: only the judge. Sample 3: the judge tied everything, and the person skipped it: no pair.
 */
function rankedRun() {
  const r = makeResponseRun(threeSamples());
  const [a, b, c] = r.ids as [number[], number[], number[]];
  r.responses.setJudgeRanking(r.itemIds[0]!, [[a[2]!], [a[1]!], [a[0]!]]);
  r.responses.addHumanRanking(r.itemIds[0]!, 'order', [[a[1]!], [a[0]!], [a[2]!]]);
  r.responses.setJudgeRanking(r.itemIds[1]!, [[b[0]!, b[2]!], [b[1]!]]);
  r.responses.setJudgeRanking(r.itemIds[2]!, [[c[0]!, c[1]!, c[2]!]]);
  r.responses.addHumanRanking(r.itemIds[2]!, 'skip', null);
  r.store.close();
  return r;
}

test('export --format dpo: TRL standard preference JSONL with the Alpaca prompt; human rankings before the judge', async () => {
  const r = rankedRun();
  const out = join(r.dir, 'pairs.jsonl');
  const res = await run({ run: r.dir, out, format: 'dpo' });
  assert.equal(res.code, 0);
  assert.match(res.out[0]!, /wrote 2 preference pairs \(dpo, best-worst\).*1 samples ranked by a person, 1 by the judge/);
  assert.match(res.err.join('\n'), /1 of 3 samples with responses have no ranking/);
  const rows = lines(out);
  assert.deepEqual(Object.keys(rows[0]!), ['prompt', 'chosen', 'rejected']);
  assert.deepEqual(rows[0], {
    prompt: 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nName three primary colours.\n\n### Response:\n',
    chosen: 'Red, yellow, blue.',
    rejected: 'Green.',
  });
  // The judge tied the sample's own output with response 2 at the top: the first of the tie is chosen.
  assert.equal(rows[1]!['chosen'], '2, 5, 9');
  assert.equal(rows[1]!['rejected'], '9, 5, 2');
  assert.match(String(rows[1]!['prompt']), /### Input:\n5, 2, 9\n\n### Response:\n$/);
});

test('export --pairs all: every pair an order implies; tied responses never pair', async () => {
  const r = rankedRun();
  const out = join(r.dir, 'all.jsonl');
  await run({ run: r.dir, out, format: 'dpo', pairs: 'all' });
  const rows = lines(out).map((x) => [x['chosen'], x['rejected']]);
  assert.deepEqual(rows, [
    ['Red, yellow, blue.', 'Red, blue and yellow.'],
    ['Red, yellow, blue.', 'Green.'],
    ['Red, blue and yellow.', 'Green.'],
    ['2, 5, 9', '9, 5, 2'],
    ['2, 5, 9.', '9, 5, 2'],
  ]);
});

test('export --format dpo-chat: TRL conversational preference format (message lists)', async () => {
  const r = rankedRun();
  const out = join(r.dir, 'chat.jsonl');
  await run({ run: r.dir, out, format: 'dpo-chat' });
  const rows = lines(out);
  assert.deepEqual(rows[1], {
    prompt: [{ role: 'user', content: 'Sort these numbers ascending.\n\n5, 2, 9' }],
    chosen: [{ role: 'assistant', content: '2, 5, 9' }],
    rejected: [{ role: 'assistant', content: '9, 5, 2' }],
  });
});

test('export --format dpo-alpaca: LLaMA-Factory JSON list of {instruction, input, chosen, rejected}', async () => {
  const r = rankedRun();
  const out = join(r.dir, 'lf.json');
  const res = await run({ run: r.dir, out, format: 'dpo-alpaca' });
  const rows = JSON.parse(readFileSync(out, 'utf8')) as unknown[];
  assert.deepEqual(rows, [
    { instruction: 'Name three primary colours.', input: '', chosen: 'Red, yellow, blue.', rejected: 'Green.' },
    { instruction: 'Sort these numbers ascending.', input: '5, 2, 9', chosen: '2, 5, 9', rejected: '9, 5, 2' },
  ]);
  assert.match(res.err.join('\n'), /"ranking": true/);
});

test('undoing the person\'s ranking falls back to the judge; --status accepted exports only accepted samples', async () => {
  const r = makeResponseRun(threeSamples());
  const [a] = r.ids as [number[]];
  r.responses.setJudgeRanking(r.itemIds[0]!, [[a[2]!], [a[0]!, a[1]!]]);
  r.responses.addHumanRanking(r.itemIds[0]!, 'best-worst', [[a[1]!], [a[0]!], [a[2]!]]);
  r.responses.undoHumanRanking();
  r.store.close();
  const out = join(r.dir, 'p.jsonl');
  await run({ run: r.dir, out, format: 'dpo' });
  assert.deepEqual(lines(out).map((x) => x['chosen']), ['Green.']);
  const none = await run({ run: r.dir, out, format: 'dpo', status: 'accepted' });
  assert.match(none.out[0]!, /wrote 0 preference pairs/);
});

test('export: --pairs without a preference format, or a bad --pairs, is a usage error', async () => {
  const r = makeResponseRun(threeSamples());
  r.store.close();
  await assert.rejects(run({ run: r.dir, out: join(r.dir, 'x.json'), pairs: 'all' }), (e: Error) => e instanceof UsageError && /--pairs is for the preference formats/.test(e.message));
  await assert.rejects(run({ run: r.dir, out: join(r.dir, 'x.json'), format: 'dpo', pairs: 'some' }), (e: Error) => e instanceof UsageError && /best-worst or all/.test(e.message));
});
