import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RunStore, viewSortKeys, type CurationStatus, type ItemViewQuery, type NewItem, type StoredItem } from '../../src/store/run-store.js';
import { migrations } from '../../src/store/schema-sql.js';
import { indexedSortKeys, viewPageSql } from '../../src/store/item-view.js';

const statuses: CurationStatus[] = ['kept', 'rejected', 'duplicate', 'dropped'];
const anyView: ItemViewQuery = { status: null, review: null, reason: null, minScore: null, maxScore: null, search: '', sort: { key: 'id', descending: false } };

/** 60 items with repeated judge scores, similarities and lengths (ties), and some without a value (nulls). */
function run(): RunStore {
  const store = RunStore.open(join(mkdtempSync(join(tmpdir(), 'forge-view-')), 'run'), { create: true });
  const req = store.beginRequest([]);
  const items: NewItem[] = Array.from({ length: 60 }, (_, i) => {
    const status = statuses[i % 4]!;
    const sim = i % 5 === 0 ? null : (i % 4) / 4;
    return {
      id: store.allocateItemId(),
      idx: i,
      instruction: `Task ${'x'.repeat(i % 7)} number ${i}`,
      input: i % 3 ? '' : 'an input',
      output: `Answer ${i % 11}`,
      status,
      reason: status === 'kept' ? null : status === 'duplicate' ? 'duplicate:rouge' : `rule:r${i % 3}`,
      duplicateOf: status === 'duplicate' ? '1' : null,
      similarity: sim,
      similar: sim === null || i % 2 ? [] : [{ id: '1', score: sim }],
    };
  });
  store.completeRequest(req, { raw: '[]', finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 }, items);
  for (const it of items) if (it.id % 3 !== 0) store.setJudge(it.id, it.id % 4, 'ok');
  return store;
}

/** The view's order written out plainly: items without a sort value last, ties by arrival. */
function expected(all: StoredItem[], q: ItemViewQuery): number[] {
  const value = (i: StoredItem): number | null =>
    q.sort.key === 'id' ? i.id : q.sort.key === 'judge' ? i.judgeScore : q.sort.key === 'similarity' ? (i.similar[0]?.score ?? i.similarity) : i.instruction.length + i.input.length + i.output.length;
  const inView = all.filter((i) => (q.status === null || i.status === q.status) && (q.review === null || (q.review === 'pending' ? i.review === null : i.review === q.review)));
  return inView
    .sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (q.sort.key === 'id') return q.sort.descending ? b.id - a.id : a.id - b.id;
      if (va === null || vb === null) return va === vb ? a.id - b.id : va === null ? 1 : -1;
      return (q.sort.descending ? vb - va : va - vb) || a.id - b.id;
    })
    .map((i) => i.id);
}

test('every sort key and direction pages in the same order from either end, and positions agree with the pages', () => {
  const store = run();
  store.setReview(5, 'accepted');
  store.setReview(9, 'rejected');
  const all = store.listItems();
  for (const key of viewSortKeys) {
    for (const descending of [false, true]) {
      for (const filter of [{}, { status: 'duplicate' as const }, { review: 'pending' as const }]) {
        const q: ItemViewQuery = { ...anyView, ...filter, sort: { key, descending } };
        const want = expected(all, q);
        const total = store.countView(q);
        assert.equal(total, want.length);
        const pages: number[] = [];
        for (let offset = 0; offset < total; offset += 7) pages.push(...store.viewPage(q, offset, 7, total).map((i) => i.id));
        assert.deepEqual(pages, want, `${key} ${descending ? 'desc' : 'asc'} ${JSON.stringify(filter)}`);
        for (const [at, id] of want.entries()) assert.equal(store.viewPosition(q, id), at);
        assert.deepEqual([...store.viewOrder(q)], want);
      }
    }
  }
  store.close();
});

test('a page in arrival or judge order, from either end, is an index walk: no sort of the run and no scan of its rows', () => {
  const store = run();
  assert.deepEqual(indexedSortKeys, ['id', 'judge']);
  for (const key of indexedSortKeys) {
    for (const descending of [false, true]) {
      for (const reversed of [false, true]) {
        const { sql, params } = viewPageSql({ ...anyView, sort: { key, descending } }, reversed);
        const plan = (store.connection.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params, 10, 0) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
        assert.doesNotMatch(plan, /TEMP B-TREE/, `${key} ${descending} ${reversed}: ${plan}`);
        if (key !== 'id') assert.match(plan, /COVERING INDEX/, `${key} ${descending} ${reversed}: ${plan}`);
      }
    }
  }
  store.close();
});

test('counts, reasons and the size of a view agree with the items after decisions, undo and re-curation', () => {
  const store = run();
  const check = () => {
    const byHand = store.connection.prepare(`SELECT status, COALESCE(review, 'pending') AS review, COUNT(*) AS n FROM items GROUP BY 1, 2`).all() as Array<{ status: string; review: string; n: number }>;
    const c = store.reviewCounts();
    assert.equal(c.total, 60);
    for (const s of statuses) assert.equal(c.byStatus[s] ?? 0, byHand.filter((r) => r.status === s).reduce((a, r) => a + r.n, 0));
    for (const r of ['accepted', 'rejected', 'skipped', 'pending'] as const) assert.equal(c.byReview[r], byHand.filter((h) => h.review === r).reduce((a, h) => a + h.n, 0));
    const reasons = store.connection.prepare(`SELECT reason, COUNT(*) AS n FROM items WHERE reason IS NOT NULL GROUP BY reason ORDER BY n DESC, reason`).all() as Array<{ reason: string }>;
    assert.deepEqual(store.reasons(), reasons.map((r) => r.reason));
    assert.deepEqual(store.summary().byReason, Object.fromEntries((reasons as Array<{ reason: string; n: number }>).map((r) => [r.reason, r.n])));
    for (const review of ['pending', 'accepted'] as const) {
      for (const reason of [null, 'rule:r1']) {
        const q = { ...anyView, status: 'rejected' as const, review, reason };
        const n = store.listItems().filter((i) => i.status === 'rejected' && (review === 'pending' ? i.review === null : i.review === review) && (reason === null || i.reason === reason)).length;
        assert.equal(store.countView(q), n);
      }
    }
  };
  check();
  store.setReview(2, 'accepted');
  store.setReview(2, 'rejected');
  store.setReview(6, 'accepted');
  check();
  store.undoLast();
  check();
  store.updateCuration([{ id: 2, status: 'kept', reason: null, duplicateOf: null, similarity: null, similar: [] }, { id: 6, status: 'dropped', reason: 'rule:r1', duplicateOf: null, similarity: null, similar: [] }]);
  check();
  store.close();
});

test('a run of the schema before is migrated in place, and its duplicates are found by the item they duplicate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-view-old-'));
  const db = new Database(join(dir, 'run.db'));
  for (const m of migrations.slice(0, -1)) db.exec(m);
  db.pragma(`user_version = ${migrations.length - 1}`);
  const ins = db.prepare(`INSERT INTO items(id, idx, instruction, input, output, status, reason, duplicate_of, review, created_at) VALUES (?, 0, 'T', '', 'o', ?, ?, ?, ?, 'then')`);
  ins.run(1, 'kept', null, null, 'accepted');
  ins.run(2, 'duplicate', 'duplicate:minhash', '1', null);
  ins.run(3, 'duplicate', 'duplicate:rouge', '1', 'rejected');
  ins.run(4, 'rejected', 'rule:x', null, null);
  db.close();
  const store = RunStore.open(dir);
  assert.deepEqual(store.reviewCounts(), {
    total: 4,
    byStatus: { kept: 1, duplicate: 2, rejected: 1 },
    byReview: { accepted: 1, rejected: 1, skipped: 0, pending: 2 },
    byStatusReview: { 'kept/accepted': 1, 'duplicate/pending': 1, 'duplicate/rejected': 1, 'rejected/pending': 1 },
  });
  assert.deepEqual(store.duplicatesOf(1, 10).map((i) => i.id), [2, 3]);
  assert.equal(store.countDuplicatesOf(1), 2);
  assert.deepEqual([...store.duplicateRemovals()].map((r) => r.reason).sort(), ['duplicate:minhash', 'duplicate:rouge']);
  store.close();
});
