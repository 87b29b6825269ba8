/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { render, cleanup } from 'ink-testing-library';
import { ReviewScreen } from '../../src/ui/review/review-screen.js';
import { recurateRun } from '../../src/curate/curate-run.js';
import { curationConfigSchema } from '../../src/config/curation.js';
import type { RunStore } from '../../src/store/run-store.js';
import { KEY, frame, mount, press, resize } from './ink-driver.js';
import { makeRun } from './run-fixture.js';

const open: RunStore[] = [];
afterEach(() => {
  cleanup();
  for (const s of open.splice(0)) s.close();
});

function cluster() {
  const run = makeRun([
    { instruction: 'Write a short poem about the sea and its waves.', output: 'Waves roll in.' },
    { instruction: 'Write a short poem about the sea and the waves.', output: 'The sea is wide and the waves are high, a longer poem.', status: 'duplicate', reason: 'duplicate:minhash', similar: [{ id: '1', score: 0.85 }] },
    { instruction: 'Compose a brief verse about the ocean.', output: 'Blue.', status: 'duplicate', reason: 'duplicate:semantic', similar: [{ id: '1', score: 0.93 }] },
    { instruction: 'List three uses of copper in industry.', output: 'Wires, pipes, coins.' },
  ]);
  open.push(run.store);
  return run;
}

test('the cluster view shows the survivor beside its duplicates; keys swap, restore, confirm and undo as review decisions', async () => {
  const { store, ids } = cluster();
  const r = render(<ReviewScreen store={store} runName="fixture" onQuit={() => {}} />);
  await mount(r);
  await resize(r, 120, 30);
  await press(r, 'd');
  let f = frame(r);
  assert.match(f, /survivor #1 · pending/);
  assert.match(f, /2 duplicates/);
  assert.match(f, /#2 pending minhash 0\.85/);
  assert.match(f, /#3 pending semantic 0\.93/);

  await press(r, 's');
  assert.equal(store.getItem(ids[1]!)!.review, 'accepted');
  assert.equal(store.getItem(ids[0]!)!.review, 'rejected');
  assert.match(frame(r), /survivor #2 · accepted/);

  await press(r, 'u');
  await press(r, 'u');
  assert.equal(store.getItem(ids[0]!)!.review, null, 'undo takes back the swap, one decision at a time');
  assert.equal(store.getItem(ids[1]!)!.review, null);

  // Back on #1 as survivor only after reopening; here the survivor is still #2 in the view, so leave and reopen.
  await press(r, KEY.escape);
  await press(r, 'd');
  await press(r, KEY.down);
  await press(r, 'r');
  assert.equal(store.getItem(ids[2]!)!.review, 'accepted', 'the selected duplicate (#3) is restored');
  await press(r, 'y');
  assert.equal(store.getItem(ids[0]!)!.review, 'accepted');
  assert.equal(store.getItem(ids[1]!)!.review, 'rejected', 'confirm rejects the undecided duplicate');
  assert.equal(store.getItem(ids[2]!)!.review, 'accepted', 'confirm leaves a restored duplicate as decided');
  f = frame(r);
  assert.match(f, /confirmed: #1 accepted, 1 duplicate rejected/);
  await press(r, KEY.escape);
  assert.match(frame(r), /#4/);

  // curate recomputes statuses but never overrides a reviewer's decision; the restored duplicate stays usable.
  recurateRun(store, curationConfigSchema.parse({ rules: { instructionLength: { enabled: false } } }));
  assert.deepEqual(ids.map((id) => store.getItem(id)!.review), ['accepted', 'rejected', 'accepted', null]);
  assert.ok(store.usableItems().some((it) => it.id === ids[2]));
});
