import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore } from '../../src/store/responses.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { jsonLine, runCli, spawnCli, waitForLine } from '../helpers/cli.js';
import { makeRun } from '../ui/run-fixture.js';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ instruction: `Explain idea number ${i} in plain words.`, output: `Idea ${i} is simple.` }));

test('respond: SIGKILL mid-run, then the same command again gives exactly K responses per sample, none duplicated or lost', async () => {
  const server = await startFakeServer({ latencyMs: 120, answers: 'text' });
  const { dir, store } = makeRun(items(30));
  store.close();
  const args = ['respond', '--run', dir, '--responses', '4', '--models', 'm1,m2', '--temperature', '0.9', '--concurrency', '5', '--base-url', server.url, '--json'];
  const env = { OPENAI_API_KEY: 'sk-respond-secret' };
  try {
    const cli = spawnCli(args, { env });
    // Killed once the JSON progress says at least 50 response slots are filled.
    await waitForLine(cli, jsonLine<{ type: string; filled?: number }>((e) => e.type === 'progress' && (e.filled ?? 0) >= 30 + 20));
    cli.child.kill('SIGKILL');
    await cli.exited;
    const sentBeforeRerun = server.requests.length;

    const before = RunStore.open(dir);
    const killed = new ResponseStore(before).counts();
    const textsBefore = new Map(new ResponseStore(before).listResponses().map((r) => [`${r.itemId}/${r.idx}`, r.text]));
    before.close();
    assert.ok(killed.ok >= 50 && killed.ok < 120, `killed mid-run: ${JSON.stringify(killed)}`);
    assert.ok(killed.inFlight > 0, `the kill caught responses in flight: ${JSON.stringify(killed)}`);

    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.requests.length - sentBeforeRerun, 120 - killed.ok, 'the re-run asks only for the slots still empty');

    const after = RunStore.open(dir);
    const rs = new ResponseStore(after);
    const c = rs.counts();
    const ok = rs.listResponses();
    assert.equal(ok.length, 120);
    assert.equal(new Set(ok.map((x) => `${x.itemId}/${x.idx}`)).size, 120, 'one response per (sample, idx)');
    assert.deepEqual([...new Set(ok.map((x) => x.idx))].sort(), [0, 1, 2, 3]);
    for (const [slot, text] of textsBefore) assert.equal(ok.find((x) => `${x.itemId}/${x.idx}` === slot)?.text, text, `response ${slot} from before the kill is kept`);
    assert.equal(c.inFlight, 0);
    assert.equal(c.abandoned, killed.inFlight, 'responses in flight at the kill are abandoned, not counted');
    // Models in turn: idx 1 and 3 from m1, idx 2 from m2; idx 0 is the sample's own output.
    assert.deepEqual(
      [...new Set(ok.filter((x) => x.source === 'model').map((x) => `${x.idx}:${x.model}`))].sort(),
      ['1:m1', '2:m2', '3:m1'],
    );
    assert.ok(ok.filter((x) => x.source === 'model').every((x) => x.sampling.temperature === 0.9 && x.completionTokens > 0 && x.text));
    after.close();
    assert.ok(!readFileSync(join(dir, 'run.db')).includes('sk-respond-secret'), 'the key is never written');
  } finally {
    await server.close();
  }
});
