/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { render, cleanup } from 'ink-testing-library';
import { ReviewScreen } from '../../src/ui/review/review-screen.js';
import { ProvenanceStore } from '../../src/store/provenance-store.js';
import type { RunStore } from '../../src/store/run-store.js';
import { KEY, frame, mount, press, resize } from './ink-driver.js';
import { makeRun } from './run-fixture.js';

const open: RunStore[] = [];
afterEach(() => {
  cleanup();
  for (const s of open.splice(0)) s.close();
});

/**
 * An evol run: seed #1, evolved by deepen into #2 (round 1), which became #3 (add-constraints) and #4 (breadth,
 * rejected) in round 2; #5 is a self-instruct item of the run, the root of #6 (evol --from-run).
 */
function evolRun() {
  const run = makeRun([
    { instruction: 'Explain photosynthesis.', output: 'Plants turn light into sugar.' },
    { instruction: 'Explain photosynthesis step by step, naming each stage.', output: 'Light reactions, then the Calvin cycle.' },
    { instruction: 'Explain photosynthesis step by step in under 80 words, naming each stage.', output: 'Light reactions make ATP; the Calvin cycle fixes carbon.' },
    { instruction: 'Describe how coral reefs feed themselves.', output: 'Algae.', status: 'rejected', reason: 'evol:no-new-information' },
    { instruction: 'Name a prime number.', output: '7' },
    { instruction: 'Name a prime number greater than 100 and show it is prime.', output: '101: no prime up to 10 divides it.' },
  ]);
  open.push(run.store);
  const prov = new ProvenanceStore(run.store);
  prov.record([
    { itemId: 1, method: 'source', parentId: null, rootId: 1, operator: null, round: 0 },
    { itemId: 2, method: 'evol', parentId: 1, rootId: 1, operator: 'deepen', round: 1 },
    { itemId: 3, method: 'evol', parentId: 2, rootId: 1, operator: 'add-constraints', round: 2 },
    { itemId: 4, method: 'evol', parentId: 2, rootId: 1, operator: 'breadth', round: 2 },
    { itemId: 6, method: 'evol', parentId: 5, rootId: 5, operator: 'concretise', round: 1 },
  ]);
  return { ...run, provenance: { lineage: (id: number) => prov.lineage(id), children: (id: number, limit?: number) => prov.children(id, limit) } };
}

test('t opens the evolution tree of the selected item: root → … → item with operator and round, then its children; enter and h walk it', async () => {
  const { store, provenance } = evolRun();
  const r = render(<ReviewScreen store={store} runName="evol" provenance={provenance} onQuit={() => {}} />);
  await mount(r);
  await resize(r, 120, 30);
  await press(r, 'j', 'j', 't');
  let f = frame(r);
  assert.match(f, /tree of #3 · root #1 · 2 generations below it/);
  const lines = f.split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const root = at(/#1 seed kept pending\s+Explain photosynthesis\./);
  const mid = at(/└ #2 deepen · round 1 kept/);
  const leaf = at(/▸\s*└ #3 add-constraints · round 2 kept pending ◂/);
  assert.ok(root !== -1 && root < mid && mid < leaf, `root, then round 1, then round 2 with the cursor on it:\n${f}`);
  assert.match(f, /under 80 words/, 'the texts of the step under the cursor');

  // Up to round 1 and centre the tree on it: its two children, the rejected one with its status.
  await press(r, 'k', KEY.enter);
  f = frame(r);
  assert.match(f, /tree of #2 · root #1 · 1 generation below it/);
  assert.match(f, /evolved from #2: 2/);
  assert.match(f, /├ #3 add-constraints · round 2 kept/);
  assert.match(f, /└ #4 breadth · round 2 rejected/);
  await press(r, 'h');
  assert.match(frame(r), /tree of #1 · root #1 · 0 generations/);
  assert.match(frame(r), /└ #2 deepen · round 1/);
  await press(r, 'h');
  assert.match(frame(r), /#1 is the root/);

  // Back to the list, on the item it was opened from.
  await press(r, KEY.escape);
  assert.match(frame(r), /^▸#3/m);
});

test('a self-instruct item shows as the root of what was evolved from it (--from-run); an item without provenance says so', async () => {
  const { store, provenance } = evolRun();
  const r = render(<ReviewScreen store={store} runName="evol" provenance={provenance} onQuit={() => {}} />);
  await mount(r);
  await resize(r, 120, 30);
  await press(r, 'G', 't');
  let f = frame(r);
  assert.match(f, /tree of #6 · root #5 · 1 generation below it/);
  assert.match(f, /#5 self-instruct kept/);
  assert.match(f, /└ #6 concretise · round 1 kept pending ◂/);
  await press(r, 't');
  // No provenance passed (a run opened without it): the view says why it is empty.
  const bare = render(<ReviewScreen store={store} runName="evol" onQuit={() => {}} />);
  await mount(bare);
  await press(bare, 't');
  f = frame(bare);
  assert.match(f, /#1 has no recorded origin: self-instruct items have none/);
});
