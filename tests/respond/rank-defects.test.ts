import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext, ParsedValues } from '../../src/cli/command.js';
import { command as curate } from '../../src/cli/commands/curate.js';
import { RunStore } from '../../src/store/run-store.js';
import { ResponseStore } from '../../src/store/responses.js';
import { DataError, exitCodeFor, StoreError } from '../../src/errors.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { makeResponseRun, threeSamples } from './response-fixture.js';
import { makeRun } from '../ui/run-fixture.js';
import { plainContext } from '../helpers/command-context.js';

async function run(values: ParsedValues) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = plainContext({ values, env: {}, out: (l) => out.push(l), err: (l) => err.push(l), signal: new AbortController().signal });
  const code = await curate.run(ctx);
  return { code, out, err };
}

const goodJudge = () => startFakeServer({ behave: (n) => ({ kind: 'ok', text: JSON.stringify({ helpfulness: 1 + (n % 9), honesty: 5, instruction_following: 5, reason: 'ok' }) }) });
const garbageJudge = () => startFakeServer({ behave: () => ({ kind: 'ok', text: 'I cannot rate this.' }) });

function configFor(dir: string): string {
  const cfg = join(dir, '..', 'forge.yaml');
  writeFileSync(cfg, 'generation:\n  model: judge-test\n  maxRetries: 0\njudge:\n  parseRetries: 0\n');
  return cfg;
}

test('a failed curate --rank --rejudge keeps every rating and ranking, and exits non-zero when no rating succeeded', async () => {
  const good = await goodJudge();
  const bad = await garbageJudge();
  const r = makeResponseRun(threeSamples());
  r.store.close();
  const cfg = configFor(r.dir);
  try {
    const first = await run({ run: r.dir, rank: true, config: cfg, 'base-url': good.url, rules: 'none' });
    assert.equal(first.code, 0, first.err.join('\n'));
    const before = snapshot(r.dir);
    assert.equal(before.rated, 9);
    assert.equal(before.rankings, 3);

    const again = await run({ run: r.dir, rank: true, rejudge: true, config: cfg, 'base-url': bad.url, rules: 'none' });
    assert.equal(again.code, exitCodeFor('api'), 'every rating failed: not a success');
    assert.match(again.err.join('\n'), /0 scored, 9 failed/);
    const after = snapshot(r.dir);
    assert.deepEqual(after, before, 'ratings and rankings are those of the last valid judgement');
  } finally {
    await good.close();
    await bad.close();
  }
});

function snapshot(dir: string) {
  const s = RunStore.open(dir);
  const rs = new ResponseStore(s);
  const ratings = rs.listResponses().map((x) => [x.id, x.rating]);
  const tiers = [...rs.currentRankings('judge').entries()].map(([k, v]) => [k, v.tiers]);
  s.close();
  return { rated: ratings.filter(([, x]) => x !== null).length, rankings: tiers.length, ratings, tiers };
}

test('curate --rank before respond says there is nothing to rank and what to run first', async () => {
  const server = await goodJudge();
  const { dir, store } = makeRun([{ instruction: 'Name a colour.', output: 'Red.' }]);
  store.close();
  try {
    await assert.rejects(
      run({ run: dir, rank: true, config: configFor(dir), 'base-url': server.url, rules: 'none' }),
      (e: Error) => e instanceof DataError && /no sample .* two or more responses/.test(e.message) && /alpaca-forge respond --run/.test(e.hint ?? ''),
    );
    assert.equal(server.requests.length, 0);
  } finally {
    await server.close();
  }
});

test('curate --rank refuses a run that another process (generate, respond) holds', async () => {
  const server = await goodJudge();
  const r = makeResponseRun(threeSamples());
  r.store.close();
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    writeFileSync(join(r.dir, 'run.lock'), String(holder.pid));
    await assert.rejects(run({ run: r.dir, rank: true, config: configFor(r.dir), 'base-url': server.url, rules: 'none' }), (e: Error) => e instanceof StoreError && /in use by process/.test(e.message));
    assert.equal(server.requests.length, 0, 'nothing was asked');
  } finally {
    holder.kill();
    await server.close();
  }
});

test('curate with two --base-url judges through both, as generate and respond do, instead of the last alone', async () => {
  const a = await goodJudge();
  const b = await goodJudge();
  const r = makeResponseRun(threeSamples());
  r.store.close();
  try {
    const res = await run({ run: r.dir, rank: true, config: configFor(r.dir), 'base-url': [a.url, b.url], rules: 'none', 'judge-concurrency': '4' });
    assert.equal(res.code, 0, res.err.join('\n'));
    assert.ok(a.requests.length > 0 && b.requests.length > 0, `spread: ${a.requests.length} + ${b.requests.length}`);
    assert.equal(a.requests.length + b.requests.length, 9);
  } finally {
    await a.close();
    await b.close();
  }
});
