/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { render, cleanup } from 'ink-testing-library';
import type { GenerateEvent } from '../../src/events.js';
import type { TrainEvent } from '../../src/events.js';
import { GenerateScreen, type GenerationHooks } from '../../src/ui/generate/generate-screen.js';
import { TrainScreen, type TrainingHooks } from '../../src/ui/train/train-screen.js';
import { frame, mount, press, resize, settle, until } from './ink-driver.js';

afterEach(() => cleanup());

/** An engine stand-in driven by the test: it records the hooks and finishes when told. */
function scriptedEngine<H>() {
  let hooks: H | undefined;
  let finish: () => void = () => {};
  let started: (h: H) => void = () => {};
  const startedP = new Promise<H>((res) => (started = res));
  const start = (h: H) => {
    hooks = h;
    started(h);
    return new Promise<void>((resolve) => (finish = resolve));
  };
  /** `started` resolves once the screen has called start (in an effect, after the first render). */
  return { start, started: startedP, hooks: () => hooks!, finish: () => finish() };
}

const progress = (over: Partial<Extract<GenerateEvent, { type: 'progress' }>> = {}): GenerateEvent => ({
  type: 'progress',
  kept: 260,
  target: 1000,
  requestsDone: 14,
  requestsFailed: 1,
  inFlight: 4,
  requestsPerSec: 1.5,
  tokensPerSec: 2345,
  promptTokens: 12000,
  completionTokens: 30000,
  costUsd: 0.0234,
  budgetUsd: 1,
  etaSec: 754,
  elapsedSec: 40,
  rejections: { duplicate: 31, 'too-long': 4, 'parse-failure': 2, blacklist: 0 },
  ...over,
});

test('generate screen: progress, rates, cost, ETA, rejections by reason, latest samples and the transport state', async () => {
  const engine = scriptedEngine<GenerationHooks>();
  const r = render(<GenerateScreen runDir="output/demo" start={engine.start} onExit={() => {}} />);
  await mount(r);
  await resize(r, 120, 30);
  const emit = (await engine.started).onEvent;
  emit({ type: 'start', runDir: 'output/demo', model: 'gpt-4o-mini', baseUrl: 'http://127.0.0.1:9/v1', template: 'json', lang: 'en', target: 1000, kept: 200, concurrency: 8, resumed: true, abandonedRequests: 2 });
  emit(progress());
  emit({ type: 'samples', latest: [{ id: 261, instruction: 'Write a limerick about tea.', input: '', output: '…' }] });
  emit({ type: 'transport', transport: { state: 'backoff', reason: '429 rate limited', waitMs: 4000, attempt: 2 } });
  const f = await until(r, /backing off.*[\s\S]*#261/);
  assert.match(f, /gpt-4o-mini @ http:\/\/127\.0\.0\.1:9\/v1 · json · en · ×8 · resumed/);
  assert.match(f, /█+.* 260 \/ 1,000 \(26\.0%\)/);
  assert.match(f, /ETA 12m34s/);
  assert.match(f, /1\.50 req\/s/);
  assert.match(f, /2345 tok\/s/);
  assert.match(f, /cost \$0\.02 of \$1\.00 budget \(2%\)/);
  assert.match(f, /backing off 4s \(attempt 2\): 429 rate limited/);
  assert.match(f, /duplicate\s+31/);
  assert.match(f, /too-long\s+4/);
  assert.doesNotMatch(f, /blacklist/, 'reasons with no rejections are not listed');
  assert.match(f, /#261 Write a limerick about tea\./);
  assert.match(f, /2 requests abandoned by the last run/);
  emit({ type: 'transport', transport: { state: 'paused', reason: 'connection refused', waitMs: 30000, pause: 1 } });
  assert.match(await until(r, /endpoint down/), /endpoint down, paused 30s \(pause 1\): connection refused/);
});

test('generate screen: p pauses and resumes new requests; q stops cleanly and leaves only once the engine has stopped', async () => {
  const engine = scriptedEngine<GenerationHooks>();
  let exits = 0;
  const r = render(<GenerateScreen runDir="output/demo" start={engine.start} onExit={() => exits++} />);
  await mount(r);
  const h = await engine.started;
  await press(r, 'p');
  assert.equal(h.pause.paused, true, 'the engine reads this before each new request');
  assert.match(frame(r), /paused: no new requests start/);
  await press(r, 'p');
  assert.equal(h.pause.paused, false);
  await press(r, 'q');
  assert.equal(h.signal.aborted, true);
  assert.match(frame(r), /stopping: waiting for requests in flight/);
  await press(r, 'q');
  assert.equal(exits, 0, 'no leaving while requests are in flight');
  h.onEvent({ type: 'done', reason: 'interrupted', kept: 300, target: 1000, costUsd: 0.03, message: 'stopped at 300/1000 kept; run again to resume' });
  engine.finish();
  assert.match(await until(r, /stopped at 300/), /stopped at 300\/1000 kept; run again to resume/);
  await settle();
  await press(r, 'q');
  assert.equal(exits, 1);
});

test('generate screen: an engine error is shown, not thrown', async () => {
  const r = render(<GenerateScreen runDir="output/demo" start={() => Promise.reject(new Error('401 invalid API key'))} onExit={() => {}} />);
  assert.match(await until(r, /error:/), /error: 401 invalid API key/);
});

const plan = {
  trainExamples: 1800,
  valExamples: 200,
  droppedExamples: 3,
  epochs: 3,
  stepsPerEpoch: 15,
  totalSteps: 45,
  microBatchesPerStep: 32,
  trainTokensPerEpoch: 410000,
  responseTokensPerEpoch: 200000,
  totalParams: 1100000000,
  trainableParams: 1126400,
  resumedFromStep: 0,
  workers: 2,
  maxPassTokens: null,
};

test('train screen: plan numbers, loss and eval-loss curve, lr, tokens/s, ETA, backend and device', async () => {
  const engine = scriptedEngine<TrainingHooks>();
  const r = render(<TrainScreen title="demo → output/demo/lora" start={engine.start} onExit={() => {}} />);
  await mount(r);
  await resize(r, 100, 30);
  const emit = (await engine.started).onEvent;
  emit({ type: 'phase', phase: 'loading-model', detail: 'models/tiny' });
  assert.match(await until(r, /loading-model/), /loading-model: models\/tiny…/);
  emit({ type: 'start', backend: 'cpu', device: 'CPU, 2 workers', plan, outDir: 'output/demo/lora' });
  for (let s = 1; s <= 20; s++) {
    const e: TrainEvent = { type: 'step', step: s, total: 45, epoch: s / 15, loss: 2.5 - s * 0.05, lr: 3e-4, gradNorm: 0.8, tokensPerSec: 1234, etaSec: (45 - s) * 2 };
    emit(e);
  }
  emit({ type: 'eval', step: 10, evalLoss: 2.2, tokens: 5000 });
  emit({ type: 'eval', step: 20, evalLoss: 1.9, tokens: 5000 });
  emit({ type: 'checkpoint', step: 20, dir: 'output/demo/lora/checkpoint-20' });
  const f = await until(r, /last checkpoint: step 20/);
  assert.match(f, /backend cpu · CPU, 2 workers/);
  assert.match(f, /plan: 1,800 train \/ 200 eval examples \(3 dropped\) · 3 epochs × 15 = 45 steps · 32 micro-batches\/step\n\s+1,126,400 trainable of 1,100,000,000 params \(0\.10%\) · 410,000 tokens\/epoch · 2 workers/);
  assert.match(f, /step 20\/45/);
  assert.match(f, /loss • 1\.5000/);
  assert.match(f, /eval ◆ 1\.9000 \(step 20\)/);
  assert.match(f, /lr 3\.00e-4/);
  assert.match(f, /1234 tok\/s/);
  assert.match(f, /ETA 50s/);
  assert.match(f, /last checkpoint: step 20/);
  // the curve: the y axis spans the losses seen, with both glyphs drawn
  assert.match(f, /2\.45┤/);
  assert.ok((f.match(/•/g) ?? []).length >= 10);
  assert.ok((f.match(/◆/g) ?? []).length >= 2);
});

test('train screen: q stops training (the trainer saves a checkpoint) and leaves after it has stopped', async () => {
  const engine = scriptedEngine<TrainingHooks>();
  let exits = 0;
  const r = render(<TrainScreen title="demo" start={engine.start} onExit={() => exits++} />);
  await mount(r);
  await engine.started;
  await press(r, 'q');
  assert.equal(engine.hooks().signal.aborted, true);
  assert.match(frame(r), /saving a checkpoint/);
  engine.hooks().onEvent({ type: 'done', step: 7, totalSteps: 45, trainLoss: 2.1, evalLoss: null, outDir: 'o', adapterDir: 'o/adapter', interrupted: true, seconds: 65 });
  engine.finish();
  assert.match(await until(r, /stopped at step/), /stopped at step 7\/45 in 1m05s · adapter in o\/adapter/);
  await settle();
  await press(r, 'q');
  assert.equal(exits, 1);
});
