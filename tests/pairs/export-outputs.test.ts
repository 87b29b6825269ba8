import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandContext, ParsedValues } from '../../src/cli/command.js';
import { command as exportCommand } from '../../src/cli/commands/export.js';
import { UsageError } from '../../src/errors.js';
import { RunStore } from '../../src/store/run-store.js';
import { makeResponseRun, threeSamples } from '../respond/response-fixture.js';
import { plainContext } from '../helpers/command-context.js';

async function run(values: ParsedValues) {
  const out: string[] = [];
  const err: string[] = [];
  const written: string[] = [];
  const ctx: CommandContext = plainContext({ values, out: (l) => out.push(l), err: (l) => err.push(l), signal: new AbortController().signal, write: (t) => void written.push(t) });
  const code = await exportCommand.run(ctx);
  return { code, out, err, written: written.join('') };
}

/** A run whose three samples each have a judge ranking, so every preference format has pairs to write. */
function rankedRun() {
  const r = makeResponseRun(threeSamples());
  const ids = r.ids as number[][];
  r.itemIds.forEach((itemId, i) => r.responses.setJudgeRanking(itemId, [[ids[i]![0]!], [ids[i]![1]!, ids[i]![2]!]]));
  r.store.close();
  return r;
}

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp'));

test('export refuses to write over the run database or another file the run owns, in every format', async () => {
  const r = rankedRun();
  const db = join(r.dir, 'run.db');
  const before = readFileSync(db);
  symlinkSync(db, join(r.dir, 'link.db'));
  for (const format of ['alpaca', 'jsonl', 'dpo', 'dpo-alpaca']) {
    for (const out of [db, join(r.dir, 'run.db-wal'), join(r.dir, 'link.db'), join(r.dir, '.', 'run.lock')]) {
      await assert.rejects(
        run({ run: r.dir, out, format }),
        (e: Error) => e instanceof UsageError && /belongs to the run/.test(e.message),
        `${format} → ${out}`,
      );
    }
  }
  assert.deepEqual(readFileSync(db), before, 'run.db untouched');
  const store = RunStore.open(r.dir);
  assert.equal(store.listItems().length, 3);
  store.close();
  // A file of its own in the run folder is fine.
  assert.equal((await run({ run: r.dir, out: join(r.dir, 'pairs.jsonl'), format: 'dpo' })).code, 0);
});

test('DPO export goes through the shared writer: - is stdout, missing folders are made, a symlink is written through, a folder is refused', async () => {
  const r = rankedRun();
  const cwd = process.cwd();
  const work = mkdtempSync(join(tmpdir(), 'forge-dpo-out-'));
  process.chdir(work);
  try {
    const res = await run({ run: r.dir, out: '-', format: 'dpo' });
    assert.equal(res.code, 0);
    assert.equal(res.written.trim().split('\n').length, 3, 'three pairs on stdout');
    assert.equal(existsSync(join(work, '-')), false, 'no file named "-"');
  } finally {
    process.chdir(cwd);
  }
  const nested = join(work, 'a', 'b', 'pairs.jsonl');
  assert.equal((await run({ run: r.dir, out: nested, format: 'dpo-chat' })).code, 0);
  assert.equal(readFileSync(nested, 'utf8').trim().split('\n').length, 3);

  const target = join(work, 'target.json');
  const link = join(work, 'link.json');
  symlinkSync(target, link);
  assert.equal((await run({ run: r.dir, out: link, format: 'dpo-alpaca' })).code, 0);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the link stays a link');
  assert.equal((JSON.parse(readFileSync(target, 'utf8')) as unknown[]).length, 3);

  const folder = join(work, 'folder');
  mkdirSync(folder);
  await assert.rejects(run({ run: r.dir, out: folder, format: 'dpo' }), (e: Error) => e instanceof UsageError && /is a directory/.test(e.message));
  assert.deepEqual(leftovers(work), [], 'no temp file left beside it');
});

test('export warns when rankings are older than the responses they rank (respond grew K after the ranking)', async () => {
  const r = makeResponseRun(threeSamples());
  const ids = r.ids as number[][];
  // Every sample ranked over its three responses; then respond adds two more to the first sample.
  r.itemIds.forEach((itemId, i) => r.responses.setJudgeRanking(itemId, [[ids[i]![0]!], [ids[i]![1]!], [ids[i]![2]!]]));
  for (const k of [3, 4]) {
    const id = r.responses.beginResponse(r.itemIds[0]!, k, 'model-c', { temperature: 0.8, topP: 1, maxTokens: 256, seed: null });
    r.responses.completeResponse(id, { text: `late answer ${k}`, finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 });
  }
  r.store.close();
  const res = await run({ run: r.dir, out: join(r.dir, 'pairs.jsonl'), format: 'dpo' });
  assert.equal(res.code, 0);
  assert.match(res.err.join('\n'), /1 sample has responses its ranking never saw \(ranked 3 of 5\)[^\n]*curate --run \S+ --rank/);
  // A run whose rankings cover every response says nothing of the kind.
  const fresh = rankedRun();
  const ok = await run({ run: fresh.dir, out: join(fresh.dir, 'pairs.jsonl'), format: 'dpo' });
  assert.doesNotMatch(ok.err.join('\n'), /never saw/);
});
