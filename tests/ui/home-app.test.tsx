/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { render, cleanup } from 'ink-testing-library';
import { forgeConfigSchema, type ForgeConfig } from '../../src/config/schema.js';
import { storeRunAccess, type RunAccess } from '../../src/review/run-access.js';
import { listRuns } from '../../src/review/run-list.js';
import { RunStore } from '../../src/store/run-store.js';
import type { TrainConfigInput } from '../../src/config/train.js';
import { App, type AppOutcome } from '../../src/ui/app.js';
import type { GenerationHooks } from '../../src/ui/generate/generate-screen.js';
import { KEY, frame, mount, press, resize, settle, type, until } from './ink-driver.js';
import { makeRun, sampleItems } from './run-fixture.js';

afterEach(() => cleanup());

function runsDirWithTwoRuns() {
  const runsDir = mkdtempSync(join(tmpdir(), 'forge-home-'));
  const a = makeRun(sampleItems(), join(runsDir, 'alpha'));
  a.store.setMeta('target', '7');
  a.store.close();
  const b = makeRun(sampleItems().slice(0, 3), join(runsDir, 'beta'));
  b.store.setMeta('target', '100');
  b.store.close();
  writeFileSync(join(runsDir, 'notes.txt'), 'not a run');
  return runsDir;
}

const config: ForgeConfig = forgeConfigSchema.parse({ generation: { model: 'my-model', target: 500, concurrency: 4 } });

test('listRuns finds the runs under output/ with kept/target, state and review counts', () => {
  const runsDir = runsDirWithTwoRuns();
  const runs = listRuns(runsDir);
  assert.deepEqual(runs.map((r) => r.name).sort(), ['alpha', 'beta']);
  const alpha = runs.find((r) => r.name === 'alpha')!;
  assert.equal(alpha.kept, 7);
  assert.equal(alpha.target, 7);
  assert.equal(alpha.state, 'complete');
  assert.equal(alpha.items, 10);
  assert.equal(runs.find((r) => r.name === 'beta')!.state, 'stopped');
  assert.deepEqual(listRuns(join(runsDir, 'missing')), []);
});

function renderApp(
  runsDir: string,
  over: { generator?: (runDir: string, c: ForgeConfig, h: GenerationHooks) => Promise<unknown>; trainer?: (c: TrainConfigInput, o: { resume: boolean }) => Promise<unknown>; runs?: RunAccess; config?: ForgeConfig } = {},
) {
  const outcomes: AppOutcome[] = [];
  const r = render(
    <App
      start={{ kind: 'home' }}
      runsDir={runsDir}
      runs={over.runs ?? storeRunAccess()}
      config={over.config ?? config}
      generator={over.generator ?? (() => Promise.resolve())}
      trainer={over.trainer ? (c, o) => over.trainer!(c, o) : undefined}
      onExit={(o) => outcomes.push(o)}
    />,
  );
  return { r, outcomes };
}

test('home: open a run for review, decide, and come back to an updated list', async () => {
  const runsDir = runsDirWithTwoRuns();
  const { r, outcomes } = renderApp(runsDir);
  await mount(r);
  await resize(r, 110, 30);
  assert.match(frame(r), /alpha\s+7 \/ 7\s+complete/);
  assert.match(frame(r), /beta\s+3 \/ 100\s+stopped/);
  const alphaFirst = frame(r).indexOf('alpha') < frame(r).indexOf('beta');
  if (!alphaFirst) await press(r, 'j');
  await press(r, KEY.enter);
  assert.match(frame(r), /review alpha · 10 items/);
  await press(r, 'a', 'x', 'q');
  assert.match(frame(r), /runs in /);
  assert.match(frame(r), /alpha .* 2\/10/, 'two of ten reviewed');
  const store = RunStore.open(join(runsDir, 'alpha'));
  assert.deepEqual(store.summary().byReview, { accepted: 1, pending: 8, rejected: 1 });
  store.close();
  await press(r, 'q');
  assert.deepEqual(outcomes, [{ kind: 'quit' }]);
});

test('home: n opens the new-generation form with forge.yaml defaults; the generator gets the run dir and the edited settings', async () => {
  const runsDir = runsDirWithTwoRuns();
  const started: Array<{ runDir: string; config: ForgeConfig }> = [];
  let finish: () => void = () => {};
  const { r } = renderApp(runsDir, {
    generator: (runDir, c, h) => {
      started.push({ runDir, config: c });
      h.onEvent({ type: 'start', runDir, model: c.generation.model, baseUrl: 'http://x/v1', template: 'json', lang: c.generation.lang, target: c.generation.target, kept: 0, concurrency: c.generation.concurrency, resumed: false, abandonedRequests: 0 });
      return new Promise<void>((res) => (finish = res));
    },
  });
  await mount(r);
  await press(r, 'n');
  const form = frame(r);
  assert.match(form, /new generation/);
  assert.match(form, /run-1/);
  assert.match(form, /my-model/);
  assert.match(form, /500/);
  // target: down to the target field, clear it, type 50; language: right arrow → zh
  await press(r, KEY.down, KEY.down, KEY.down, ...Array(3).fill(KEY.backspace));
  await type(r, '50');
  await press(r, KEY.down, KEY.down, KEY.right);
  await press(r, KEY.enter);
  assert.equal(started.length, 1);
  assert.equal(started[0]!.runDir, join(runsDir, 'run-1'));
  assert.equal(started[0]!.config.generation.target, 50);
  assert.equal(started[0]!.config.generation.lang, 'zh');
  assert.equal(started[0]!.config.generation.model, 'my-model');
  assert.match(await until(r, /my-model @/), /generate .*run-1 · my-model @ http:\/\/x\/v1/);
  finish();
  await settle();
  await press(r, 'q');
  assert.match(frame(r), /runs in /, 'back on the home screen');
});

test('home: the new-generation form sets evol\'s rounds, operators and parent check, and refuses an unknown operator', async () => {
  const runsDir = runsDirWithTwoRuns();
  const started: ForgeConfig[] = [];
  const { r } = renderApp(runsDir, { generator: (_dir, c) => (started.push(c), new Promise<void>(() => {})) });
  await mount(r);
  await press(r, 'n');
  // method (7th field): right once → evol; evol input (9th) a file; rounds (10th) 2; operators (11th) a typo first.
  await press(r, ...Array(6).fill(KEY.down), KEY.right, KEY.down, KEY.down);
  await type(r, 'input.jsonl');
  await press(r, KEY.down, KEY.backspace);
  await type(r, '2');
  await press(r, KEY.down, ...Array(13).fill(KEY.backspace));
  await type(r, 'deepen,sideways');
  await press(r, KEY.down, KEY.right, KEY.enter);
  assert.match(frame(r), /evol operators: unknown operator "sideways"/);
  assert.equal(started.length, 0);
  await press(r, KEY.up, ...Array(8).fill(KEY.backspace));
  await type(r, 'reasoning');
  await press(r, KEY.enter);
  assert.equal(started.length, 1);
  const g = started[0]!.generation;
  assert.equal(g.method, 'evol');
  assert.deepEqual({ from: g.evol.from, rounds: g.evol.rounds, operators: g.evol.operators, check: g.evol.sameAsParentCheck }, { from: 'input.jsonl', rounds: 2, operators: 'deepen,reasoning', check: 'model' });
});

test('home: a bad form value is named and nothing starts', async () => {
  const runsDir = runsDirWithTwoRuns();
  let calls = 0;
  const { r } = renderApp(runsDir, { generator: () => (calls++, Promise.resolve()) });
  await mount(r);
  await press(r, 'n', ...Array(5).fill(KEY.backspace));
  await type(r, 'alpha');
  await press(r, KEY.enter);
  assert.match(frame(r), /run name: alpha exists/);
  await press(r, KEY.down, KEY.down, KEY.down, ...Array(3).fill(KEY.backspace));
  await press(r, KEY.shiftTab, KEY.shiftTab, KEY.shiftTab, ...Array(5).fill(KEY.backspace));
  await type(r, 'fresh');
  await press(r, KEY.enter);
  assert.match(frame(r), /target: /);
  assert.equal(calls, 0);
  await press(r, KEY.escape);
  assert.match(frame(r), /runs in /);
});

test('home: t asks for the model and output dir, then trains on the run; c asks for dedup methods and benchmarks, then hands the run to curate', async () => {
  const runsDir = runsDirWithTwoRuns();
  const trained: Array<{ c: TrainConfigInput; resume: boolean }> = [];
  const { r, outcomes } = renderApp(runsDir, { trainer: (c, o) => (trained.push({ c, resume: o.resume }), Promise.resolve()) });
  await mount(r);
  await press(r, 't');
  assert.match(frame(r), /train on (alpha|beta)/);
  await type(r, 'models/tiny');
  await press(r, KEY.enter);
  assert.equal(trained.length, 1);
  assert.equal(trained[0]!.c.model, 'models/tiny');
  assert.match(String(trained[0]!.c.run), /(alpha|beta)$/);
  assert.equal(trained[0]!.c.out, join(String(trained[0]!.c.run), 'lora'));
  assert.equal(trained[0]!.resume, false);
  await press(r, 'q');
  await press(r, 'c');
  assert.match(frame(r), /curate (alpha|beta): dedup and decontamination/);
  assert.equal(outcomes.length, 0);
  // dedup starts at forge.yaml's (rouge); → twice reaches semantic. Four fields down: the benchmark files.
  await press(r, KEY.right, KEY.right, KEY.down, KEY.down, KEY.down, KEY.down);
  await type(r, 'bench/mmlu.jsonl, bench/gsm8k.csv');
  await press(r, KEY.enter);
  assert.equal(outcomes.length, 1);
  const out = outcomes[0]!;
  assert.ok(out.kind === 'curate');
  assert.match(out.runDir, /(alpha|beta)$/);
  assert.deepEqual(out.args, ['--dedup', 'semantic', '--keep', 'first', '--embedding-model', 'text-embedding-3-small', '--semantic-threshold', '0.9', '--decontaminate', 'bench/mmlu.jsonl,bench/gsm8k.csv', '--ngram', '13']);
  // They are flags the curate command takes as they are (the CLI runs it with them after --run).
  const { command } = await import('../../src/cli/commands/curate.js');
  assert.doesNotThrow(() => parseArgs({ args: ['--run', out.runDir, ...out.args], options: command.options, strict: true }));
});

test('the curate form refuses a threshold or n-gram the command would refuse, naming the setting', async () => {
  const { r, outcomes } = renderApp(runsDirWithTwoRuns());
  await mount(r);
  await press(r, 'c', KEY.down, KEY.down, KEY.down, KEY.backspace, KEY.backspace, KEY.backspace);
  await type(r, '1.5');
  await press(r, KEY.enter);
  assert.match(frame(r), /curation\.dedup\.semanticThreshold/);
  await press(r, KEY.backspace, KEY.backspace, KEY.backspace);
  await type(r, '0.95');
  await press(r, KEY.down, KEY.down, KEY.backspace, KEY.backspace);
  await type(r, '0');
  await press(r, KEY.enter);
  assert.match(frame(r), /n-gram: a whole number from 1 to 64/);
  assert.equal(outcomes.length, 0);
  await press(r, KEY.escape);
  assert.match(frame(r), /runs in /);
});

test('keys that arrive in one read each see the previous one: two downs in the form move two fields, "jj" on home two runs', async () => {
  const runsDir = runsDirWithTwoRuns();
  makeRun(sampleItems().slice(0, 1), join(runsDir, 'gamma')).store.close();
  const { r } = renderApp(runsDir);
  await mount(r);
  await press(r, 'jj');
  assert.match(frame(r), /^▸ alpha|^▸ beta|^▸ gamma/m);
  const names = [...frame(r).matchAll(/^[▸ ] (alpha|beta|gamma)\s/gm)].map((m) => m[1]);
  assert.equal(/^▸ (\w+)/m.exec(frame(r))![1], names[2], 'the cursor on the third run');
  await press(r, 'n', `${KEY.down}${KEY.down}`);
  assert.match(frame(r), /▸ base URL/);
});

test('home: the app lists and opens runs through the RunAccess it is given, not the store', async () => {
  const runsDir = runsDirWithTwoRuns();
  const disk = storeRunAccess();
  const alpha = disk.list(runsDir).find((run) => run.name === 'alpha')!;
  const opened: string[] = [];
  const runs: RunAccess = {
    ...disk,
    list: (dir) => [{ ...alpha, name: 'elsewhere', dir: join(dir, 'elsewhere') }],
    openReview: (dir) => {
      opened.push(dir);
      return disk.openReview(alpha.dir);
    },
  };
  const { r } = renderApp(runsDir, { runs });
  await mount(r);
  await resize(r, 110, 30);
  assert.match(frame(r), /elsewhere\s+7 \/ 7/);
  assert.doesNotMatch(frame(r), /beta/);
  await press(r, KEY.enter);
  assert.deepEqual(opened, [join(runsDir, 'elsewhere')]);
  assert.match(frame(r), /review elsewhere · 10 items/);
  await press(r, 'q');
});

test('home: the train form checks its values with the train config schema: what forge.yaml would refuse does not start', async () => {
  const runsDir = runsDirWithTwoRuns();
  const trained: TrainConfigInput[] = [];
  const { r } = renderApp(runsDir, { trainer: (c) => (trained.push(c), Promise.resolve()) });
  await mount(r);
  await press(r, 't');
  const kept = /train on (alpha|beta)/.exec(frame(r))![1] === 'alpha' ? 7 : 3;
  assert.match(frame(r), new RegExp(`eval samples\\s+${Math.floor(kept / 10)}\\b`), 'a tenth of the run, not the default 2000');
  await type(r, 'models/tiny');
  // epochs: Infinity is "a positive number", but not a number forge.yaml accepts
  await press(r, KEY.down, KEY.down, KEY.backspace);
  await type(r, 'Infinity');
  await press(r, KEY.enter);
  assert.match(frame(r), /train\.epochs: /);
  assert.equal(trained.length, 0);
  // max steps 2.5: not an integer
  await press(r, ...Array(8).fill(KEY.backspace));
  await type(r, '2');
  await press(r, KEY.down, KEY.backspace);
  await type(r, '2.5');
  await press(r, KEY.enter);
  assert.match(frame(r), /train\.maxSteps: /);
  assert.equal(trained.length, 0);
  await press(r, KEY.backspace, KEY.backspace, KEY.backspace);
  await type(r, '5');
  await press(r, KEY.enter);
  assert.equal(trained.length, 1);
  assert.equal(trained[0]!.epochs, 2);
  assert.equal(trained[0]!.maxSteps, 5);
});

test('home: the train form chooses the method; the trainer is asked for that method (rm here)', async () => {
  const runsDir = runsDirWithTwoRuns();
  const methods: string[] = [];
  const { r } = renderApp(runsDir, { trainer: (_c, o) => (methods.push((o as unknown as { method: { name: string } }).method.name), Promise.resolve()) });
  await mount(r);
  await press(r, 't');
  await type(r, 'models/tiny');
  // model, out, epochs, max steps, eval samples, backend, then the method: → dpo → rm
  await press(r, ...Array(6).fill(KEY.down), KEY.right, KEY.right);
  assert.match(frame(r), /method\s+‹ rm ›/);
  await press(r, KEY.enter);
  assert.deepEqual(methods, ['rm']);
});
