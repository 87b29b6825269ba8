import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandContext, ParsedValues } from '../../src/cli/command.js';
import { command as respond } from '../../src/cli/commands/respond.js';
import { DataError, UsageError } from '../../src/errors.js';
import { makeRun } from '../ui/run-fixture.js';
import { plainContext } from '../helpers/command-context.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

async function run(values: ParsedValues) {
  const ctx: CommandContext = plainContext({ values, out: () => {}, err: () => {}, signal: new AbortController().signal });
  return respond.run(ctx);
}

test('respond names the flag to fix: --responses missing, below 2 or above 9, a bad --status', async () => {
  const { dir, store } = makeRun([{ instruction: 'Name a colour.', output: 'Red.' }]);
  store.close();
  await assert.rejects(run({ run: dir }), (e: Error) => e instanceof UsageError && /--responses is required/.test(e.message));
  await assert.rejects(run({ run: dir, responses: '1' }), (e: Error) => e instanceof UsageError && /--responses must be >= 2/.test(e.message));
  await assert.rejects(run({ run: dir, responses: '12' }), (e: Error) => e instanceof UsageError && /--responses must be <= 9/.test(e.message));
  await assert.rejects(run({ run: dir, responses: '3', status: 'all' }), (e: Error) => e instanceof UsageError && /--status must be kept or accepted/.test(e.message));
});

test('respond --status accepted on a run with nothing accepted says what to do first', async () => {
  const { dir, store } = makeRun([{ instruction: 'Name a colour.', output: 'Red.' }]);
  store.close();
  await assert.rejects(
    run({ run: dir, responses: '3', status: 'accepted', 'base-url': 'http://127.0.0.1:9/v1' }),
    (e: Error) => e instanceof DataError && /no accepted samples/.test(e.message) && /review/.test((e as DataError).hint ?? ''),
  );
});

test("respond's responses come from the model that generated the run unless --models says otherwise", async () => {
  const server = await startFakeServer({ answers: 'text' });
  try {
    // A run of today records its model in meta; an older one only in its config snapshot.
    const current = makeRun([{ instruction: 'Name a colour.', output: 'Red.' }]);
    current.store.setMeta('model', 'teacher-7b');
    current.store.setMeta('config', JSON.stringify({ generation: { model: 'teacher-7b' } }));
    current.store.close();
    const older = makeRun([{ instruction: 'Name a shape.', output: 'Circle.' }]);
    older.store.setMeta('config', JSON.stringify({ generation: { model: 'old-teacher' } }));
    older.store.close();
    assert.equal(await run({ run: current.dir, responses: '2', 'base-url': server.url }), 0);
    assert.equal(await run({ run: older.dir, responses: '2', 'base-url': server.url }), 0);
    assert.equal(await run({ run: older.dir, responses: '3', models: 'other-model', 'base-url': server.url }), 0);
    assert.deepEqual(server.requests.map((r) => r.model), ['teacher-7b', 'old-teacher', 'other-model']);
  } finally {
    await server.close();
  }
});
