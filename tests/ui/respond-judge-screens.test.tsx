/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { render, cleanup } from 'ink-testing-library';
import { forgeConfigSchema } from '../../src/config/schema.js';
import type { JudgeConfig } from '../../src/config/curation.js';
import type { RespondSettings } from '../../src/respond/run-respond.js';
import { storeRunAccess } from '../../src/review/run-access.js';
import { App } from '../../src/ui/app.js';
import { JudgeScreen, type JudgeHooks } from '../../src/ui/judge/judge-screen.js';
import { RespondScreen, type RespondHooks } from '../../src/ui/respond/respond-screen.js';
import { KEY, frame, mount, press, resize, settle, type, until } from './ink-driver.js';
import { makeRun, sampleItems } from './run-fixture.js';

afterEach(() => cleanup());

/** An engine stand-in driven by the test: it records the hooks and finishes when told. */
function scriptedEngine<H>() {
  let finish: () => void = () => {};
  let started: (h: H) => void = () => {};
  const startedP = new Promise<H>((res) => (started = res));
  const start = (h: H) => {
    started(h);
    return new Promise<void>((resolve) => (finish = resolve));
  };
  return { start, started: startedP, finish: () => finish() };
}

test('respond screen: responses filled of slots, requests, tokens, cost and the endpoint; q stops cleanly and leaves once stopped', async () => {
  const engine = scriptedEngine<RespondHooks>();
  let exits = 0;
  const r = render(<RespondScreen runDir="output/demo" start={engine.start} onExit={() => exits++} />);
  await mount(r);
  await resize(r, 120, 20);
  const h = await engine.started;
  h.onEvent({ type: 'start', runDir: 'output/demo', items: 30, slots: 120, filled: 30, models: ['m-a', 'm-b'], baseUrl: 'http://127.0.0.1:9/v1', endpoints: [], concurrency: 8, abandoned: 2, resumed: true });
  h.onEvent({ type: 'progress', filled: 75, slots: 120, requestsDone: 45, requestsFailed: 1, inFlight: 8, costUsd: 0.0123, promptTokens: 9000, completionTokens: 12000, elapsedSec: 65 });
  h.onEvent({ type: 'transport', transport: { state: 'backoff', reason: '429 rate limited', waitMs: 2000, attempt: 1 } });
  const f = await until(r, /backing off/);
  assert.match(f, /respond output\/demo · m-a, m-b @ http:\/\/127\.0\.0\.1:9\/v1 · ×8 · resumed/);
  assert.match(f, /█+.* 75 \/ 120 responses for 30 samples/);
  assert.match(f, /requests 45 done · 1 failed · 8 in flight  tokens 9,000 in \/ 12,000 out  elapsed 1m05s/);
  assert.match(f, /cost \$0\.01 · 2 answers abandoned by the last run, asked again/);
  assert.match(f, /backing off 2s \(attempt 1\): 429 rate limited/);
  await press(r, 'q');
  assert.equal(h.signal.aborted, true);
  assert.match(frame(r), /stopping: waiting for answers in flight/);
  await press(r, 'q');
  assert.equal(exits, 0, 'no leaving while answers are in flight');
  h.onEvent({ type: 'done', reason: 'interrupted', filled: 80, slots: 120, costUsd: 0.013, message: 'stopped: 80/120 responses; run again to resume' });
  engine.finish();
  assert.match(await until(r, /stopped: 80\/120/), /stopped: 80\/120 responses; run again to resume  \(q to leave\)/);
  await settle();
  await press(r, 'q');
  assert.equal(exits, 1);
});

test('judge screen (rank): rated of total, scored and failed, cost; at the end the samples ordered and those with ties', async () => {
  const engine = scriptedEngine<JudgeHooks>();
  const r = render(<JudgeScreen runDir="output/demo" mode="rank" start={engine.start} onExit={() => {}} />);
  await mount(r);
  await resize(r, 120, 16);
  const h = await engine.started;
  h.onEvent({ type: 'start', runDir: 'output/demo', mode: 'rank', model: 'judge-m', concurrency: 4, rejudge: true });
  h.onEvent({ type: 'progress', done: 6, total: 9, scored: 5, failed: 1, costUsd: 0.002, elapsedSec: 3 });
  const f = await until(r, /6 \/ 9/);
  assert.match(f, /judge output\/demo · rank the candidate responses · judge-m · ×4 · rejudge/);
  assert.match(f, /█+.* 6 \/ 9 responses rated/);
  assert.match(f, /5 scored · 1 failed or unreadable  2\.00 responses\/s/);
  h.onEvent({ type: 'done', stop: 'done', scored: 8, failed: 1, notJudged: 0, costUsd: 0.003, message: 'judged 9 responses: 8 scored, 1 failed or unparseable; spent $0.0030', ranked: { ranked: 2, withTies: 1, incomplete: 1 } });
  engine.finish();
  const end = await until(r, /q to leave/);
  assert.match(end, /2 samples ordered \(1 with ties\) · 1 with a response not rated yet/);
  assert.match(end, /judged 9 responses: 8 scored/);
});

test('judge screen: an engine error (a refused key, a locked run) is shown, not thrown', async () => {
  const r = render(<JudgeScreen runDir="output/demo" mode="judge" start={() => Promise.reject(new Error('output/demo is locked by another process'))} onExit={() => {}} />);
  assert.match(await until(r, /error:/), /error: output\/demo is locked/);
});

test('home: a asks for K and the models, then runs respond on the run; J judges or ranks it; both as jobs that come back home', async () => {
  const runsDir = mkdtempSync(join(tmpdir(), 'forge-rj-'));
  makeRun(sampleItems(), join(runsDir, 'alpha')).store.close();
  const config = forgeConfigSchema.parse({ generation: { model: 'my-model', concurrency: 4 } });
  const responded: Array<{ runDir: string; model: string; settings: RespondSettings }> = [];
  const judged: Array<{ runDir: string; mode: string; judge: JudgeConfig }> = [];
  const r = render(
    <App
      start={{ kind: 'home' }}
      runsDir={runsDir}
      runs={storeRunAccess()}
      config={config}
      generator={() => Promise.resolve()}
      trainer={undefined}
      responder={(runDir, c, settings, hooks) => {
        responded.push({ runDir, model: c.generation.model, settings });
        hooks.onEvent({ type: 'done', reason: 'done', filled: 40, slots: 40, costUsd: 0, message: 'filled 40/40 responses' });
        return Promise.resolve();
      }}
      judger={(runDir, job, hooks) => {
        judged.push({ runDir, ...job });
        hooks.onEvent({ type: 'done', stop: 'done', scored: 30, failed: 0, notJudged: 0, costUsd: 0, message: 'judged 30 responses', ranked: { ranked: 10, withTies: 0, incomplete: 0 } });
        return Promise.resolve();
      }}
      onExit={() => {}}
    />,
  );
  await mount(r);
  await press(r, 'a');
  assert.match(frame(r), /respond on alpha/);
  // responses (K): 4 → 3
  await press(r, KEY.backspace);
  await type(r, '3');
  await press(r, KEY.down);
  await press(r, ...Array(8).fill(KEY.backspace));
  await type(r, 'm1, m2');
  await press(r, KEY.enter);
  assert.equal(responded.length, 1);
  assert.equal(responded[0]!.runDir, join(runsDir, 'alpha'));
  assert.equal(responded[0]!.settings.responses, 3);
  assert.deepEqual(responded[0]!.settings.models, ['m1', 'm2']);
  assert.match(await until(r, /filled 40\/40/), /respond .*alpha/);
  await press(r, 'q');
  assert.match(await until(r, /runs in /), /alpha/);

  await press(r, 'J');
  assert.match(frame(r), /judge alpha/);
  await press(r, KEY.right);
  assert.match(frame(r), /job\s+‹ rank ›/);
  await press(r, KEY.enter);
  assert.equal(judged.length, 1);
  assert.equal(judged[0]!.mode, 'rank');
  assert.equal(judged[0]!.judge.model, 'my-model');
  assert.match(await until(r, /judged 30 responses/), /10 samples ordered/);
  await press(r, 'q');
  assert.match(await until(r, /runs in /), /alpha/);
});

test('the respond form refuses what respond would: K outside 2–9 names the field and starts nothing', async () => {
  const { respondSettingsFrom, respondFields } = await import('../../src/ui/settings-forms.js');
  const config = forgeConfigSchema.parse({ generation: { model: 'run-model', concurrency: 4 } });
  const v = Object.fromEntries(respondFields(config).map((f) => [f.name, f.value]));
  assert.equal(v['models'], 'run-model');
  assert.deepEqual(respondSettingsFrom(config, { ...v, responses: '1' }), { error: 'responses (K): a whole number from 2 to 9' });
  assert.deepEqual(respondSettingsFrom(config, { ...v, models: ' , ' }), { error: 'models: at least one model' });
  const ok = respondSettingsFrom(config, v);
  assert.ok('settings' in ok && ok.settings.responses === 4 && ok.settings.concurrency === 4 && ok.settings.status === 'kept');
});
