/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render, cleanup } from 'ink-testing-library';
import { ReviewScreen } from '../../src/ui/review/review-screen.js';
import type { RunStore } from '../../src/store/run-store.js';
import { KEY, frame, mount, press, resize, type, until } from './ink-driver.js';
import { makeRun, sampleItems } from './run-fixture.js';

const open: RunStore[] = [];
afterEach(() => {
  cleanup();
  for (const s of open.splice(0)) s.close();
});

async function renderReview(opts: { columns?: number; rows?: number } = {}) {
  const run = makeRun(sampleItems());
  open.push(run.store);
  let quit = 0;
  const r = render(<ReviewScreen store={run.store} runName="fixture" seedInstruction={(id) => (id === 'seed_task_1' ? 'List the primary colours.' : undefined)} onQuit={() => quit++} />);
  await mount(r);
  await resize(r, opts.columns ?? 100, opts.rows ?? 30);
  return { r, ...run, quits: () => quit };
}

/** Ids of the list rows in the frame, top to bottom. */
function listedIds(text: string): number[] {
  return [...text.matchAll(/^[▸ ]#(\d+)\s+[✓✗»·] /gm)].map((m) => Number(m[1]));
}

function selectedId(text: string): number | undefined {
  const m = /^▸#(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

test('a, x and s write accept, reject and skip to the run store at once and move to the next sample', async () => {
  const { r, store, ids } = await renderReview();
  await press(r, 'a');
  assert.equal(store.getItem(ids[0]!)?.review, 'accepted');
  assert.equal(selectedId(frame(r)), ids[1]);
  await press(r, 'x', 's');
  assert.equal(store.getItem(ids[1]!)?.review, 'rejected');
  assert.equal(store.getItem(ids[2]!)?.review, 'skipped');
  assert.equal(store.getItem(ids[3]!)?.review, null);
  // A reject is soft: the sample is still in the run, with its text.
  assert.equal(store.getItem(ids[1]!)?.instruction, 'Translate "good morning" into French.');
  assert.match(frame(r), /✓ 1 ✗ 1 » 1 · 7 pending/);
  assert.match(frame(r), /reviewed 3\/10/);
});

test('keys that arrive in one read are applied one after another', async () => {
  const { r, store, ids } = await renderReview();
  r.stdin.write('ax');
  await until(r, /✓ 1 ✗ 1/);
  assert.equal(store.getItem(ids[0]!)?.review, 'accepted');
  assert.equal(store.getItem(ids[1]!)?.review, 'rejected');
});

test('u undoes a stack of decisions, newest first, and says when nothing is left', async () => {
  const { r, store, ids } = await renderReview();
  await press(r, 'a', 'x', 's');
  await press(r, 'u');
  assert.equal(store.getItem(ids[2]!)?.review, null);
  assert.equal(store.getItem(ids[1]!)?.review, 'rejected');
  assert.equal(selectedId(frame(r)), ids[2], 'the cursor goes to the item undone');
  await press(r, 'u');
  assert.equal(store.getItem(ids[1]!)?.review, null);
  assert.equal(store.getItem(ids[0]!)?.review, 'accepted');
  await press(r, 'u');
  assert.equal(store.getItem(ids[0]!)?.review, null);
  await press(r, 'u');
  assert.match(frame(r), /nothing left to undo/);
});

test('j/k and arrows move; the detail pane shows status, reason, judge score and the most similar task with its ROUGE-L', async () => {
  const { r, ids } = await renderReview();
  assert.match(frame(r), /most similar: seed seed_task_1 {2}ROUGE-L 0\.31 “List the primary colours\.”/);
  await press(r, 'j', 'j', 'j');
  assert.equal(selectedId(frame(r)), ids[3]);
  const f = frame(r);
  assert.match(f, /duplicate \(rouge\)/);
  assert.match(f, new RegExp(`most similar: #1 {2}ROUGE-L 0\\.91 “Name three primary colours\\.”`));
  await press(r, 'k', KEY.up, KEY.down);
  assert.equal(selectedId(frame(r)), ids[2]);
  assert.match(frame(r), /judge: 3/);
});

test('o cycles the sort (judge score, similarity, length) and O reverses it', async () => {
  const { r } = await renderReview({ rows: 40 });
  await press(r, 'o');
  assert.match(frame(r), /sort judge score ↓/);
  // Judge scores 5,5,4,4,3,2,1 then the unjudged in arrival order.
  assert.deepEqual(listedIds(frame(r)), [2, 8, 1, 6, 3, 7, 10, 4, 5, 9]);
  await press(r, 'O');
  assert.deepEqual(listedIds(frame(r)).slice(0, 7), [10, 7, 3, 1, 6, 2, 8]);
  await press(r, 'o');
  assert.match(frame(r), /sort similarity ↓/);
  assert.deepEqual(listedIds(frame(r)).slice(0, 5), [4, 8, 1, 6, 2]);
  await press(r, 'o');
  assert.match(frame(r), /sort length ↓/);
  assert.equal(listedIds(frame(r))[0], 10);
});

test('f filters by status, review, reason and judge score range', async () => {
  const { r } = await renderReview({ rows: 40 });
  // status: any → kept
  await press(r, 'f', KEY.right, KEY.enter);
  assert.deepEqual(listedIds(frame(r)), [1, 2, 3, 6, 7, 8, 10]);
  assert.match(frame(r), /filter status=kept/);
  // judge score ≥ 4 on top of it
  await press(r, 'f', KEY.tab, KEY.tab, KEY.tab);
  await type(r, '4');
  await press(r, KEY.enter);
  assert.deepEqual(listedIds(frame(r)), [1, 2, 6, 8]);
  // reason: the most frequent first; every reason is offered
  await press(r, 'F', 'f', KEY.tab, KEY.tab, KEY.right, KEY.enter);
  assert.equal(listedIds(frame(r)).length, 1);
  // review = pending hides decided items, and deciding one drops it from the list
  await press(r, 'F', 'f', KEY.tab, KEY.right, KEY.enter);
  assert.equal(listedIds(frame(r)).length, 10);
  assert.equal(selectedId(frame(r)), 5, 'clearing the filter kept the cursor on the same sample');
  await press(r, 'g', 'a');
  assert.deepEqual(listedIds(frame(r)), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(selectedId(frame(r)), 2);
  // a bad bound is refused and the dialog stays
  await press(r, 'F', 'f', KEY.tab, KEY.tab, KEY.tab);
  await type(r, 'high');
  await press(r, KEY.enter);
  assert.match(frame(r), /judge score bounds must be numbers/);
});

test('/ searches the texts, and letters typed into the search field never act as commands', async () => {
  const { r, store } = await renderReview();
  await press(r, '/');
  await type(r, 'prime');
  assert.deepEqual(listedIds(frame(r)), [8]);
  await press(r, KEY.enter);
  assert.match(frame(r), /search "prime"/);
  assert.match(frame(r), /1 match for "prime"/);
  // 'a', 'x', 's', 'u', 'q' typed in the field: text, not decisions.
  await press(r, '/');
  await type(r, 'axsuq');
  await press(r, KEY.escape);
  assert.equal(store.listItems({ review: ['accepted', 'rejected', 'skipped'] }).length, 0);
  assert.match(frame(r), /search "prime"/, 'esc restores the search kept before');
  await press(r, '/', ...Array(5).fill(KEY.backspace));
  await type(r, '#3');
  await press(r, KEY.enter);
  assert.deepEqual(listedIds(frame(r)), [3]);
});

test('e edits instruction, input and output in place; the store keeps the original and u undoes the edit', async () => {
  const { r, store, ids } = await renderReview();
  const id = ids[0]!;
  await press(r, 'e');
  assert.match(frame(r), /editing #1/);
  // Typing letters that are also commands (a, x, u, q) edits the text.
  await type(r, 'Quickly: ');
  await press(r, KEY.tab);
  await type(r, 'art class');
  await press(r, KEY.tab, KEY.enter);
  await type(r, 'ax');
  await press(r, KEY.ctrlS);
  const edited = store.getItem(id)!;
  assert.equal(edited.instruction, 'Quickly: Name three primary colours.');
  assert.equal(edited.input, 'art class');
  assert.equal(edited.output, '\naxRed, blue and yellow.');
  assert.deepEqual(edited.original, { instruction: 'Name three primary colours.', input: '', output: 'Red, blue and yellow.' });
  assert.equal(edited.review, null, 'editing does not decide');
  assert.match(frame(r), /#1 edited/);
  await press(r, 'u');
  assert.equal(store.getItem(id)!.instruction, 'Name three primary colours.');
  assert.equal(store.getItem(id)!.original, null);
});

test('esc leaves the edit form without writing', async () => {
  const { r, store, ids } = await renderReview();
  await press(r, 'e');
  await type(r, 'zzz');
  await press(r, KEY.escape);
  assert.equal(store.getItem(ids[0]!)!.instruction, 'Name three primary colours.');
  assert.match(frame(r), /edit cancelled/);
});

test('w exports the accepted samples (or every usable one) to a file', async () => {
  const { r, dir } = await renderReview();
  await press(r, 'a', 'j', 'a');
  await press(r, 'w');
  assert.match(frame(r), /accepted by review/);
  await press(r, KEY.enter);
  const path = join(dir, 'accepted.json');
  assert.match(frame(r), /exported 2 accepted samples/);
  const data = JSON.parse(readFileSync(path, 'utf8')) as Array<{ instruction: string }>;
  assert.deepEqual(
    data.map((d) => d.instruction),
    ['Name three primary colours.', 'Write a haiku about autumn rain.'],
  );
  // usable = accepted, or kept and not rejected by review; JSONL
  await press(r, 'w', KEY.right, KEY.down, KEY.right, KEY.enter);
  const lines = readFileSync(join(dir, 'accepted.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 7);
});

test('the layout follows the terminal: list beside the detail when wide, above it when narrow', async () => {
  const { r } = await renderReview({ columns: 140, rows: 30 });
  const wide = frame(r).split('\n');
  assert.ok(wide.some((l) => /^▸#1 .*#1 {2}kept {2}review: pending/.test(l)), 'detail header on the cursor row');
  assert.ok(wide.every((l) => l.length <= 140));
  await resize(r, 70, 30);
  const narrow = frame(r).split('\n');
  assert.ok(narrow.every((l) => l.length <= 70), 'no line wider than the terminal');
  const listRow = narrow.findIndex((l) => l.startsWith('▸#1'));
  const detailRow = narrow.findIndex((l) => /#1 {2}kept {2}review/.test(l));
  assert.ok(listRow !== -1 && detailRow > listRow, 'detail below the list');
  await resize(r, 100, 12);
  assert.ok(frame(r).split('\n').length <= 11, 'one line short of the terminal height');
});

test('? shows the keys from the key table; q quits', async () => {
  const { r, quits } = await renderReview();
  await press(r, '?');
  assert.match(frame(r), /undo \(repeat to go further back\)/);
  await press(r, 'a');
  assert.doesNotMatch(frame(r), /✓ 1/, 'keys other than close do nothing under the help');
  await press(r, KEY.escape, 'q');
  assert.equal(quits(), 1);
});
