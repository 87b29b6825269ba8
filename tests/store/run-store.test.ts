import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, type NewItem } from '../../src/store/run-store.js';
import { readAlpacaFile } from '../../src/data/alpaca-file.js';
import { runCli } from '../helpers/cli.js';

function newRun(): { dir: string; store: RunStore } {
  const dir = join(mkdtempSync(join(tmpdir(), 'forge-store-')), 'run');
  return { dir, store: RunStore.open(dir, { create: true }) };
}

function item(store: RunStore, idx: number, text: string, status: NewItem['status'] = 'kept'): NewItem {
  return { id: store.allocateItemId(), idx, instruction: `Do ${text}.`, input: idx % 2 ? `in ${text}` : '', output: `out ${text}`, status, reason: status === 'kept' ? null : 'rule:x', duplicateOf: null, similarity: null, similar: [] };
}

function fill(store: RunStore): void {
  const req = store.beginRequest({ examples: [] });
  store.completeRequest(req, { raw: '[]', finishReason: 'stop', promptTokens: 10, completionTokens: 20, costUsd: 0.5 }, [
    item(store, 0, 'a'),
    item(store, 1, 'b'),
    item(store, 2, 'c', 'rejected'),
    item(store, 3, 'd'),
  ]);
}

test('opening a missing run without create names the directory and what to do', () => {
  assert.throws(() => RunStore.open('/nonexistent/run'), /\/nonexistent\/run: no run here/);
});

test('a file that is not a run database gives a clear store error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-bad-'));
  writeFileSync(join(dir, 'run.db'), 'this is not sqlite'.repeat(100));
  assert.throws(() => RunStore.open(dir), /cannot open the run database/);
});

test('a run written by the first schema version is migrated in place, its items intact', async () => {
  const { default: Database } = await import('better-sqlite3');
  const { migrations } = await import('../../src/store/schema-sql.js');
  const dir = mkdtempSync(join(tmpdir(), 'forge-v1-'));
  const db = new Database(join(dir, 'run.db'));
  db.exec(migrations[0]!);
  db.pragma('user_version = 1');
  db.prepare(`INSERT INTO items(id, idx, instruction, input, output, status, created_at) VALUES (1, 0, 'Old.', '', 'o', 'kept', 'then')`).run();
  db.close();
  const store = RunStore.open(dir);
  assert.equal(store.getItem(1)!.instruction, 'Old.');
  assert.equal(store.getItem(1)!.detail, null);
  store.updateCuration([{ id: 1, status: 'rejected', reason: 'rule:x', detail: 'because', duplicateOf: null, similarity: null, similar: [] }]);
  assert.equal(store.getItem(1)!.detail, 'because');
  store.close();
});

test('review decisions and edits are stored at once, keep the original, and undo as a stack', () => {
  const { dir, store } = newRun();
  fill(store);
  store.setReview(1, 'accepted');
  store.setReview(2, 'rejected');
  store.editItem(4, { instruction: 'Do D better.', input: '', output: 'better' });
  store.editItem(4, { instruction: 'Do D best.', input: '', output: 'best' });
  store.close();
  const again = RunStore.open(dir);
  assert.equal(again.getItem(1)!.review, 'accepted');
  assert.equal(again.getItem(4)!.instruction, 'Do D best.');
  assert.deepEqual(again.getItem(4)!.original, { instruction: 'Do d.', input: 'in d', output: 'out d' });
  assert.equal(again.undo()!.id, 4);
  assert.equal(again.getItem(4)!.instruction, 'Do D better.');
  assert.equal(again.undo()!.id, 4);
  assert.equal(again.getItem(4)!.instruction, 'Do d.');
  assert.equal(again.getItem(4)!.original, null);
  assert.equal(again.undo()!.id, 2);
  assert.equal(again.getItem(2)!.review, null);
  assert.equal(again.getItem(1)!.review, 'accepted');
  assert.equal(again.undo()!.id, 1);
  assert.equal(again.undo(), null);
  again.close();
});

test('re-curation never touches review decisions or edits', () => {
  const { store } = newRun();
  fill(store);
  store.setReview(3, 'accepted');
  store.editItem(3, { instruction: 'Edited.', input: '', output: 'e' });
  store.updateCuration([{ id: 3, status: 'kept', reason: null, duplicateOf: null, similarity: null, similar: [{ id: '1', score: 0.4 }] }]);
  const it = store.getItem(3)!;
  assert.equal(it.status, 'kept');
  assert.equal(it.review, 'accepted');
  assert.equal(it.instruction, 'Edited.');
  assert.deepEqual(it.similar, [{ id: '1', score: 0.4 }]);
  store.close();
});

test('summary counts statuses, reasons, reviews, requests, tokens and cost', () => {
  const { store } = newRun();
  fill(store);
  store.beginRequest({});
  store.setReview(2, 'rejected');
  const s = store.summary();
  assert.deepEqual(s.byStatus, { kept: 3, rejected: 1 });
  assert.deepEqual(s.byReason, { 'rule:x': 1 });
  assert.deepEqual(s.byReview, { pending: 3, rejected: 1 });
  assert.deepEqual(s.requests, { total: 2, ok: 1, failed: 0, inFlight: 1, abandoned: 0, queued: 0 });
  assert.equal(s.costUsd, 0.5);
  assert.equal(store.abandonInFlight(), 1);
  assert.equal(store.summary().requests.abandoned, 1);
  store.close();
});

test('export writes Alpaca JSON, JSONL and chat messages of the chosen samples', async () => {
  const { dir, store } = newRun();
  fill(store);
  store.setReview(2, 'rejected');
  store.setReview(3, 'accepted');
  store.close();
  const out = join(dir, 'x.json');
  const r = await runCli(['export', '--run', dir, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  // kept (1, 4) + accepted (3); item 2 was rejected in review.
  assert.deepEqual(
    readAlpacaFile(out).map((s) => s.instruction),
    ['Do a.', 'Do c.', 'Do d.'],
  );
  assert.deepEqual(JSON.parse(readFileSync(out, 'utf8'))[0], { instruction: 'Do a.', input: '', output: 'out a' });
  const acc = join(dir, 'acc.jsonl');
  assert.equal((await runCli(['export', '--run', dir, '--out', acc, '--format', 'jsonl', '--status', 'accepted'])).code, 0);
  assert.deepEqual(readFileSync(acc, 'utf8').trim().split('\n').map((l) => JSON.parse(l).instruction), ['Do c.']);
  const msg = join(dir, 'm.jsonl');
  assert.equal((await runCli(['export', '--run', dir, '--out', msg, '--format', 'messages'])).code, 0);
  const first = JSON.parse(readFileSync(msg, 'utf8').split('\n')[1]!);
  assert.deepEqual(first, { messages: [{ role: 'user', content: 'Do c.' }, { role: 'assistant', content: 'out c' }] });
  const bad = await runCli(['export', '--run', dir, '--out', msg, '--format', 'csv']);
  assert.equal(bad.code, 2);
});

test('a row the store cannot read (a status no version writes) fails with the column at fault, not undefined', async () => {
  const { dir, store } = newRun();
  fill(store);
  store.close();
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(dir, 'run.db'));
  db.prepare(`UPDATE items SET status = 'maybe' WHERE id = 2`).run();
  db.prepare(`UPDATE items SET review = 'later' WHERE id = 3`).run();
  db.close();
  const reopened = RunStore.open(dir);
  try {
    assert.equal(reopened.getItem(1)?.status, 'kept');
    assert.throws(() => reopened.getItem(2), (e: Error) => e.name === 'StoreError' && /run\.db: unexpected row \(column status: /.test(e.message));
    assert.throws(() => reopened.listItems(), /column status/);
    assert.throws(() => reopened.getItem(3), /column review/);
  } finally {
    reopened.close();
  }
});

test('the config snapshot is parsed, not cast: fields of the wrong type read as absent, junk as no snapshot', () => {
  const { store } = newRun();
  assert.equal(store.configSnapshot(), undefined);
  store.setMeta('config', JSON.stringify({ generation: { model: 'm-1', temperature: 0.7, topP: 'high', seed: 3 }, prices: {} }));
  const snap = store.configSnapshot()!;
  assert.equal(snap.generation?.model, 'm-1');
  assert.equal(snap.generation?.temperature, 0.7);
  assert.equal(snap.generation?.topP, undefined, 'a string where a number belongs is dropped, not passed on');
  assert.deepEqual(snap['prices'], {}, 'other keys stay for a full forge.yaml parse');
  store.setMeta('config', '{not json');
  assert.equal(store.configSnapshot(), undefined);
  store.setMeta('config', '[1, 2]');
  assert.equal(store.configSnapshot(), undefined);
  store.close();
});
