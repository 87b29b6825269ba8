import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Key } from 'ink';
import { ReviewSession } from '../../src/ui/review/review-session.js';
import { ClusterSession } from '../../src/ui/review/cluster-session.js';
import { listTop } from '../../src/ui/review/item-list.js';
import type { RunStore } from '../../src/store/run-store.js';
import { makeRun, sampleItems } from './run-fixture.js';

const open: RunStore[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

const queries = ['countView', 'countDecidedInView', 'viewPage', 'viewOrder', 'viewPosition', 'listItems', 'usableItems'] as const;

/** The run store, counting the calls that read the list (a scan or an index walk at a million items). */
function countingStore(store: RunStore): { store: RunStore; calls: Record<string, number>; reset: () => void } {
  const calls: Record<string, number> = {};
  const reset = () => queries.forEach((q) => (calls[q] = 0));
  reset();
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (typeof prop === 'string' && prop in calls) calls[prop]!++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls, reset };
}

/** What the screen reads for one frame of a list 5 rows high. */
function frame(s: ReviewSession) {
  const w = s.window(listTop(s.cursor, 5, s.total), 5);
  return { total: s.total, decided: s.decidedInView, ids: w.rows.map((r) => r.id), selected: s.selected?.id, counts: s.counts };
}

const press = (s: ReviewSession, keys: string) => s.handleInput(keys, {} as Key);

test('deciding follows the list without reading it again, under a filter that drops decided items too', () => {
  const run = makeRun(sampleItems());
  open.push(run.store);
  const { store, calls, reset } = countingStore(run.store);
  const s = new ReviewSession(store);
  s.pageSize = 5;
  frame(s);
  reset();
  press(s, 'a');
  press(s, 'x');
  press(s, 'j');
  press(s, 's');
  const after = frame(s);
  assert.deepEqual(calls, Object.fromEntries(queries.map((q) => [q, 0])), 'no count, page or position query after three decisions');
  assert.equal(after.selected, 5);
  assert.equal(after.decided, 3);

  // The "pending" view: each decision takes the item out; the list closes up and the count follows.
  s.filter = { ...s.filter, review: 'pending' };
  s.cursor = 0;
  frame(s);
  reset();
  press(s, 'a');
  press(s, 'a');
  const pending = frame(s);
  assert.equal(calls['countView'], 0);
  assert.equal(calls['viewPage'], 0);
  assert.equal(pending.total, 5);

  // What the session shows is what a fresh session reads from the store.
  const fresh = new ReviewSession(run.store);
  fresh.filter = s.filter;
  fresh.cursor = s.cursor;
  assert.deepEqual(frame(fresh), pending);
});

test('after decisions, edits and undo under a text search, the patched list equals the list read afresh', () => {
  const run = makeRun(sampleItems());
  open.push(run.store);
  const s = new ReviewSession(run.store);
  s.pageSize = 5;
  press(s, '/');
  for (const ch of 'three') press(s, ch);
  s.handleInput('', { return: true } as Key);
  s.filter = { ...s.filter, review: 'pending' };
  frame(s);
  press(s, 'a');
  press(s, 'u');
  press(s, 'x');
  s.sort = { key: 'length', descending: true };
  frame(s);
  press(s, 'c');
  press(s, 'u');
  // An edit that makes the selected item the longest: under the length sort it moves to the top.
  press(s, 'e');
  s.handleInput(' '.repeat(0) + 'much longer now '.repeat(8), {} as Key);
  s.handleInput('s', { ctrl: true } as Key);
  assert.match(s.message?.text ?? '', /edited/);
  const fresh = new ReviewSession(run.store);
  fresh.filter = s.filter;
  fresh.search = s.search;
  fresh.sort = s.sort;
  fresh.cursor = s.cursor;
  assert.deepEqual(frame(s), frame(fresh));
});

test('the cluster view reads the cluster by the item it duplicates, never the whole run, and the list follows its decisions', () => {
  const run = makeRun([
    { instruction: 'Write a poem about the sea.', output: 'Waves.' },
    { instruction: 'Write a poem about the sea!', output: 'Waves!', status: 'duplicate', reason: 'duplicate:minhash', similar: [{ id: '1', score: 0.9 }] },
    { instruction: 'List three metals.', output: 'Iron, tin, gold.' },
  ]);
  open.push(run.store);
  const { store, calls, reset } = countingStore(run.store);
  const s = new ReviewSession(store);
  frame(s);
  reset();
  const cluster = new ClusterSession(store, (before, after) => s.changedElsewhere(before, after), run.store.getItem(2)!);
  assert.equal(calls['listItems'], 0);
  assert.deepEqual(cluster.members.map((m) => m.item.id), [1, 2]);
  cluster.confirm();
  assert.deepEqual(frame(s).counts.byReview, { accepted: 1, rejected: 1, skipped: 0, pending: 1 });
  assert.equal(frame(s).decided, 2);
});
