import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore } from '../../src/store/responses.js';
import { TmuxTerminal, shellQuote, terminalEnv, tmuxMissing } from '../helpers/tmux-terminal.js';
import { makeResponseRun, threeSamples } from '../respond/response-fixture.js';

const bin = resolve('dist/src/cli/main.js');
const skip = tmuxMissing ? 'tmux is not installed (apt-get install -y tmux): the terminal UI end-to-end test needs a pseudo-terminal' : false;

test('review --rank in a real terminal: best/worst, order, skip, undo, quit; the store and the DPO export show exactly that', { skip, timeout: 60000 }, async () => {
  assert.ok(existsSync(bin), `${bin} is missing: run \`npm run build\` first (npm test does)`);
  const root = mkdtempSync(join(tmpdir(), 'forge-e2e-rank-'));
  const run = makeResponseRun(threeSamples(), join(root, 'run'));
  const [a, b, c] = run.ids as [number[], number[], number[]];
  run.responses.setJudgeRanking(run.itemIds[0]!, [[a[1]!], [a[0]!], [a[2]!]]);
  run.store.close();
  const exitFile = join(root, 'exit-code');
  const term = new TmuxTerminal(`sh -c ${shellQuote(`${process.execPath} ${bin} review --run ${run.dir} --rank; echo $? > ${exitFile}`)}`, terminalEnv());
  try {
    await term.waitFor(/sample 1 of 3/, 'the ranking screen');
    assert.match(term.screen(), /\[2\] model-a/);
    term.keys('b');
    await term.waitFor(/best: press its number/, 'the best prompt');
    term.keys('2', '3');
    await term.waitFor(/ranked 1\/3/, 'best 2, worst 3 saved');
    await term.waitFor(/judge agrees on 3\/3 pairs/, 'agreement with the judge');
    term.keys('o', '3', '1');
    await term.waitFor(/ranked 2\/3/, 'the order of sample 2');
    term.keys('s');
    await term.waitFor(/skipped 1/, 'skip of sample 3');
    term.keys('u');
    await term.waitFor(/undid #\d+: now not ranked/, 'undo of the skip');
    term.keys('q');
    const deadline = Date.now() + 10000;
    while (!existsSync(exitFile) && Date.now() < deadline) await delay(40);
    assert.equal(readFileSync(exitFile, 'utf8').trim(), '0', `exit code; screen:\n${term.screen()}`);
    assert.match(term.screen(), /rank .*run: ranked 2 · skipped 0 · not ranked 1 of 3 samples with responses/);
  } finally {
    term.close();
  }

  const s = RunStore.open(run.dir);
  const human = new ResponseStore(s).currentRankings('human');
  s.close();
  assert.deepEqual(human.get(run.itemIds[0]!)?.tiers, [[a[1]!], [a[0]!], [a[2]!]]);
  assert.equal(human.get(run.itemIds[0]!)?.kind, 'best-worst');
  assert.deepEqual(human.get(run.itemIds[1]!)?.tiers, [[b[2]!], [b[0]!], [b[1]!]]);
  assert.equal(human.has(run.itemIds[2]!), false);
  void c;

  const out = join(root, 'pairs.jsonl');
  const exp = spawnSync(process.execPath, [bin, 'export', '--run', run.dir, '--format', 'dpo-alpaca', '--out', out], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
  assert.equal(exp.status, 0, exp.stderr);
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), [
    { instruction: 'Name three primary colours.', input: '', chosen: 'Red, yellow, blue.', rejected: 'Green.' },
    { instruction: 'Sort these numbers ascending.', input: '5, 2, 9', chosen: '2, 5, 9.', rejected: '9, 5, 2' },
  ]);
});
