import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RunStore } from '../../src/store/run-store.js';
import { assertBuilt, CLI } from '../helpers/cli.js';
import { makeRun } from '../ui/run-fixture.js';
import { TmuxTerminal as Terminal, shellQuote, terminalEnv, tmuxMissing } from '../helpers/tmux-terminal.js';

const skip = tmuxMissing ? 'tmux is not installed (apt-get install -y tmux): the terminal UI end-to-end test needs a pseudo-terminal' : false;

const question = 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?';
const long = (animal: string) =>
  `Write a detailed and friendly paragraph for young readers that explains how the ${animal} finds its food during the long cold winter months in the northern forests of Canada.`;

test('home in a real terminal: c, then MinHash and a benchmark file in the form; curate runs on the run and home shows its result', { skip, timeout: 90000 }, async () => {
  assertBuilt();
  const root = mkdtempSync(join(tmpdir(), 'forge-e2e-curate-'));
  const runsDir = join(root, 'output');
  const { dir, store, ids } = makeRun(
    [
      { instruction: long('red fox'), output: 'The fox listens for mice under the snow and pounces.' },
      { instruction: long('grey fox'), output: 'It hunts small animals and eats berries it finds.' },
      { instruction: 'Solve this word problem and show each step of the working.', output: `${question} She sold 48 + 24 = 72 clips.` },
      { instruction: 'Name three countries in South America and their capital cities.', output: 'Peru (Lima), Chile (Santiago), Brazil (Brasília).' },
    ],
    join(runsDir, 'alpha'),
  );
  store.close();
  const bench = join(root, 'gsm8k_test.jsonl');
  writeFileSync(bench, `${JSON.stringify({ question, answer: '72' })}\n`);
  const exitFile = join(root, 'exit-code');
  const term = new Terminal(`sh -c ${shellQuote(`cd ${root} && ${process.execPath} ${CLI} review --runs-dir ${runsDir}; echo $? > ${exitFile}`)}`, terminalEnv());
  try {
    await term.waitFor(/alpha/, 'the home screen');
    term.keys('c');
    await term.waitFor(/curate alpha: dedup and decontamination/, 'the curate form');
    // dedup: rouge → minhash; then four fields down to the benchmark files.
    term.keys('Right', 'Down', 'Down', 'Down', 'Down');
    term.type(bench);
    await term.waitFor(/test\.jsonl/, 'the typed path');
    term.keys('Enter');
    await term.waitFor(/curated: /, 'home again, with curation\'s result');
    term.keys('q');
    const deadline = Date.now() + 10000;
    while (!existsSync(exitFile) && Date.now() < deadline) await delay(40);
    assert.equal(readFileSync(exitFile, 'utf8').trim(), '0', `exit code; screen:\n${term.screen()}`);
  } finally {
    term.close();
  }
  const after = RunStore.open(dir);
  try {
    const byId = new Map(after.listItems().map((i) => [i.id, i]));
    assert.equal(byId.get(ids[1]!)!.reason, 'duplicate:minhash');
    assert.equal(byId.get(ids[1]!)!.duplicateOf, String(ids[0]));
    assert.equal(byId.get(ids[2]!)!.reason, 'contamination');
    assert.equal(byId.get(ids[0]!)!.status, 'kept');
    assert.equal(byId.get(ids[3]!)!.status, 'kept');
  } finally {
    after.close();
  }
});
