/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { render, cleanup } from 'ink-testing-library';
import { RankScreen, wrapText } from '../../src/ui/rank/rank-screen.js';
import { openRankFacade } from '../../src/review/rank-review.js';
import { ResponseStore } from '../../src/store/responses.js';
import { RunStore } from '../../src/store/run-store.js';
import { KEY, frame, mount, press, resize, until } from './ink-driver.js';
import { makeResponseRun, threeSamples } from '../respond/response-fixture.js';

const open: Array<{ close(): void }> = [];
afterEach(() => {
  cleanup();
  for (const s of open.splice(0)) s.close();
});

/** Three samples of three responses; the judge has ranked the first two. */
async function renderRank(rows = 30) {
  const run = makeResponseRun(threeSamples());
  const [a, b] = run.ids as [number[], number[]];
  run.responses.setJudgeRanking(run.itemIds[0]!, [[a[1]!], [a[0]!], [a[2]!]]);
  run.responses.setJudgeRanking(run.itemIds[1]!, [[b[0]!, b[2]!], [b[1]!]]);
  run.store.close();
  const facade = openRankFacade(run.dir);
  open.push(facade);
  let quits = 0;
  const r = render(<RankScreen facade={facade} runName="fixture" onQuit={() => quits++} />);
  await mount(r);
  await resize(r, 100, rows);
  return { r, run, quits: () => quits };
}

function humanRankings(dir: string) {
  const s = RunStore.open(dir);
  try {
    return new ResponseStore(s).currentRankings('human');
  } finally {
    s.close();
  }
}

test('the ranking screen shows the instruction, then each response with its model and judge rating', async () => {
  const { r } = await renderRank();
  const f = frame(r);
  assert.match(f, /rank fixture · sample 1 of 3 · #\d+ · not ranked/);
  assert.match(f, /Instruction: Name three primary colours\./);
  assert.match(f, /\[1\] gen-model \(the sample's own output\) · not rated/);
  assert.match(f, /\[2\] model-a · not rated/);
  assert.match(f, /\[3\] model-b/);
  assert.match(f, /Red, yellow, blue\./);
  assert.match(f, /ranked 0\/3 · skipped 0 · no overlap with the judge yet/);
});

test('b, best, worst is written at once with agreement shown; o orders all; s skips; u undoes', async () => {
  const { r, run } = await renderRank();
  const [a, b, c] = run.ids as [number[], number[], number[]];
  await press(r, 'b');
  assert.match(frame(r), /best: press its number/);
  await press(r, '2', '3');
  let human = humanRankings(run.dir);
  assert.deepEqual(human.get(run.itemIds[0]!), { ...human.get(run.itemIds[0]!)!, kind: 'best-worst', tiers: [[a[1]!], [a[0]!], [a[2]!]] });
  let f = frame(r);
  assert.match(f, /best 2, worst 3 · judge agrees on 3\/3 pairs/);
  assert.match(f, /sample 2 of 3/, 'on to the next sample');
  assert.match(f, /ranked 1\/3 · skipped 0 · judge agrees on 3\/3 pairs \(100%\)/);

  // Sample 2, ordered 2 > 1 (3 placed last by itself); the judge tied 1 and 3 and put 2 last.
  await press(r, 'o', '2', '1');
  human = humanRankings(run.dir);
  assert.deepEqual(human.get(run.itemIds[1]!)?.tiers, [[b[1]!], [b[0]!], [b[2]!]]);
  f = frame(r);
  assert.match(f, /order 2 > 1 > 3 · judge agrees on 0\/2 pairs/);
  assert.match(f, /judge agrees on 3\/5 pairs \(60%\)/);

  await press(r, 's');
  assert.equal(humanRankings(run.dir).get(run.itemIds[2]!)?.kind, 'skip');
  assert.match(frame(r), /ranked 2\/3 · skipped 1/);
  assert.match(frame(r), /every sample decided/);

  await press(r, 'u');
  assert.equal(humanRankings(run.dir).has(run.itemIds[2]!), false);
  assert.match(frame(r), /undid #\d+: now not ranked/);
  await press(r, 'u');
  assert.equal(humanRankings(run.dir).has(run.itemIds[1]!), false);
  assert.match(frame(r), /sample 2 of 3/, 'undo goes back to the sample it changed');
  assert.match(frame(r), /ranked 1\/3 · skipped 0/);
  void c;
});

test('a wrong number, a repeated number, and esc do not decide anything', async () => {
  const { r, run } = await renderRank();
  await press(r, '2');
  assert.match(frame(r), /press b \(best, then worst\) or o/);
  await press(r, 'b', '7');
  assert.match(frame(r), /there is no response 7: pick 1–3/);
  await press(r, '2', '2');
  assert.match(frame(r), /2 is the best; pick a different worst/);
  await press(r, KEY.escape);
  await until(r, /pick cancelled/);
  assert.equal(humanRankings(run.dir).size, 0);
  assert.match(frame(r), /sample 1 of 3/);
});

test('long responses scroll with j/k inside a small terminal; n and p move between samples', async () => {
  const long = Array.from({ length: 40 }, (_, i) => `line ${i} of a long answer`).join('\n');
  const run = makeResponseRun([{ instruction: 'Write a long answer.', output: 'short', responses: [long, 'brief'] }, ...threeSamples()]);
  run.store.close();
  const facade = openRankFacade(run.dir);
  open.push(facade);
  const r = render(<RankScreen facade={facade} runName="fixture" onQuit={() => {}} />);
  await mount(r);
  await resize(r, 80, 16);
  assert.match(frame(r), /lines below/);
  assert.doesNotMatch(frame(r), /line 20 of/);
  await press(r, ...Array(20).fill('j'));
  assert.match(frame(r), /line 20 of/);
  assert.match(frame(r), /lines above/);
  await press(r, 'n');
  assert.match(frame(r), /sample 2 of 4/);
  assert.match(frame(r), /Name three primary colours/);
  await press(r, 'p');
  assert.match(frame(r), /sample 1 of 4/);
});

test('word wrap keeps words whole and cuts only a word longer than the line', () => {
  assert.deepEqual(wrapText('one two three four', 9), ['one two', 'three', 'four']);
  assert.deepEqual(wrapText('abcdefghijkl', 8), ['abcdefgh', 'ijkl']);
  assert.deepEqual(wrapText('a\n\nb', 10), ['a', '', 'b']);
});
