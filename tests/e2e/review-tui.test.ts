import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RunStore } from '../../src/store/run-store.js';
import { assertBuilt, CLI, runCli } from '../helpers/cli.js';
import { makeRun, sampleItems } from '../ui/run-fixture.js';
import { TmuxTerminal as Terminal, shellQuote, terminalEnv as baseEnv, tmuxMissing } from '../helpers/tmux-terminal.js';

/**
 * The real `alpaca-forge review` binary in a pseudo-terminal: tmux runs it, send-keys types, capture-pane reads the
 * screen. Then the run store, and an export of the accepted samples, must show exactly the decisions typed.
 */
const bin = CLI;
const skip = tmuxMissing ? 'tmux is not installed (apt-get install -y tmux): the terminal UI end-to-end test needs a pseudo-terminal' : false;

test('review in a real terminal: accept, reject, edit in place, undo and quit; the store and export show exactly that', { skip, timeout: 60000 }, async (t) => {
  assertBuilt();
  const root = mkdtempSync(join(tmpdir(), 'forge-e2e-review-'));
  const { dir, store, ids } = makeRun(sampleItems(), join(root, 'run'));
  store.close();
  const exitFile = join(root, 'exit-code');
  const term = new Terminal(`sh -c ${shellQuote(`${process.execPath} ${bin} review --run ${dir}; echo $? > ${exitFile}`)}`, baseEnv());
  try {
    const first = await term.waitFor(/1 of 10/, 'the review screen');
    assert.match(first, /review run · 10 items/);
    assert.match(term.screen(true), /\u001b\[(3\d|9\d|38;5;\d+)m/, 'colours are on without NO_COLOR');

    term.keys('a');
    await term.waitFor(/✓ 1 /, 'accept #1');
    term.keys('a');
    await term.waitFor(/✓ 2 /, 'accept #2');
    term.keys('x');
    await term.waitFor(/✗ 1 /, 'reject #3');
    term.keys('j', 'x');
    await term.waitFor(/✗ 2 /, 'skip past #4, reject #5');
    await term.waitFor(/6 of 10/, 'the cursor on #6');

    // In-place edit of #6's instruction: letters typed here are text, not commands.
    term.keys('e');
    await term.waitFor(/editing #6/, 'the edit form');
    // ctrl+e and the text in one send-keys: they usually reach the program in one read, which once lost the ctrl+e.
    term.keys('C-e', ' Be brief and exact.');
    await term.waitFor(/Be brief and exact\./, 'the typed text');
    term.keys('C-s');
    await term.waitFor(/#6 edited/, 'the edit saved');
    term.keys('a');
    await term.waitFor(/✓ 3 /, 'accept #6');
    term.keys('a');
    await term.waitFor(/✓ 4 /, 'accept #7');
    term.keys('u');
    await term.waitFor(/undid #7: now pending/, 'undo of the last accept');
    await term.waitFor(/✓ 3 /, 'three accepted after the undo');

    term.keys('q');
    const deadline = Date.now() + 10000;
    while (!existsSync(exitFile) && Date.now() < deadline) await delay(40);
    assert.equal(readFileSync(exitFile, 'utf8').trim(), '0', `exit code; screen:\n${term.screen()}`);
    assert.match(term.screen(), /review .*run: accepted 3 · rejected 2 · skipped 0 · pending 5/, 'the summary line on the normal screen');
  } finally {
    term.close();
  }

  const after = RunStore.open(dir);
  try {
    const byId = new Map(after.listItems().map((i) => [i.id, i]));
    const decided = [...byId.values()].filter((i) => i.review !== null).map((i) => [i.id, i.review]);
    assert.deepEqual(decided, [
      [ids[0], 'accepted'],
      [ids[1], 'accepted'],
      [ids[2], 'rejected'],
      [ids[4], 'rejected'],
      [ids[5], 'accepted'],
    ]);
    const edited = byId.get(ids[5]!)!;
    assert.equal(edited.instruction, 'Summarise the plot of Hamlet in one sentence. Be brief and exact.');
    assert.deepEqual(edited.original, {
      instruction: 'Summarise the plot of Hamlet in one sentence.',
      input: '',
      output: 'A Danish prince avenges his father and everyone dies.',
    });
    assert.equal(byId.get(ids[6]!)!.review, null, 'the undone accept is gone');
    // Rejects are soft: rejected samples are still in the run with their text.
    assert.equal(byId.get(ids[2]!)!.instruction, 'Write a haiku about autumn rain.');
  } finally {
    after.close();
  }

  const out = join(root, 'accepted.json');
  const exp = await runCli(['export', '--run', dir, '--format', 'alpaca', '--out', out, '--status', 'accepted']);
  if (/not built yet/.test(exp.stderr)) {
    t.diagnostic('`alpaca-forge export` is not built yet: the decisions were checked on the store only');
    return;
  }
  assert.equal(exp.code, 0, exp.stderr);
  const exported = JSON.parse(readFileSync(out, 'utf8')) as Array<{ instruction: string; input: string; output: string }>;
  assert.deepEqual(
    exported.map((s) => s.instruction),
    ['Name three primary colours.', 'Translate "good morning" into French.', 'Summarise the plot of Hamlet in one sentence. Be brief and exact.'],
  );
});

test('NO_COLOR: the UI draws without colour (the cursor row stays in inverse video)', { skip, timeout: 30000 }, async () => {
  assertBuilt();
  const root = mkdtempSync(join(tmpdir(), 'forge-e2e-nocolor-'));
  const { dir, store } = makeRun(sampleItems(), join(root, 'run'));
  store.close();
  const term = new Terminal(`${process.execPath} ${bin} review --run ${dir}`, { ...baseEnv(), NO_COLOR: '1' });
  try {
    await term.waitFor(/1 of 10/, 'the review screen');
    const raw = term.screen(true);
    assert.doesNotMatch(raw, /\u001b\[[0-9;]*(3[0-7]|9[0-7]|38;5;\d+)m/, 'no colour escapes');
    assert.match(raw, /\u001b\[[0-9;]*7m/, 'inverse video marks the cursor row');
    term.keys('q');
  } finally {
    term.close();
  }
});

test('review refuses to start without a terminal and says why', async () => {
  assertBuilt();
  const root = mkdtempSync(join(tmpdir(), 'forge-e2e-notty-'));
  const { dir, store } = makeRun(sampleItems(), join(root, 'run'));
  store.close();
  const r = await runCli(['review', '--run', dir], { env: { CI: '' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /review needs a terminal/);
  assert.match(r.stderr, /alpaca-forge export --run DIR/);
});
