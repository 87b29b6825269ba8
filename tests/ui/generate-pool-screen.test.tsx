/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { render, cleanup } from 'ink-testing-library';
import type { GenerateEvent } from '../../src/events.js';
import { GenerateScreen, type GenerationHooks } from '../../src/ui/generate/generate-screen.js';
import { generationPrinter } from '../../src/cli/generate-output.js';
import { mount, resize, until } from './ink-driver.js';

afterEach(() => cleanup());

const progress: GenerateEvent = {
  type: 'progress',
  kept: 260,
  target: 1000,
  requestsDone: 14,
  requestsFailed: 3,
  inFlight: 4,
  requestsPerSec: 1.5,
  tokensPerSec: 2345,
  promptTokens: 12000,
  completionTokens: 30000,
  costUsd: 0.0234,
  budgetUsd: null,
  etaSec: 754,
  elapsedSec: 40,
  rejections: {},
  endpoints: [
    { endpoint: 'http://gpu-a:8000/v1', model: 'qwen', state: 'up', inFlight: 3, ok: 11, failed: 0, requestsPerSec: 1.1 },
    { endpoint: 'http://gpu-b:8000/v1', model: 'qwen', state: 'down', inFlight: 1, ok: 3, failed: 3, requestsPerSec: 0.4 },
    { endpoint: 'https://api.example.com/v1', model: 'qwen', state: 'refused', inFlight: 0, ok: 0, failed: 0, requestsPerSec: 0 },
  ],
};

test('generate screen: one line per endpoint of a pool, and the batch round state', async () => {
  let hooks: GenerationHooks | undefined;
  let started: () => void = () => {};
  const ready = new Promise<void>((r) => (started = r));
  const r = render(
    <GenerateScreen
      runDir="output/demo"
      start={(h) => {
        hooks = h;
        started();
        return new Promise(() => {});
      }}
      onExit={() => {}}
    />,
  );
  await mount(r);
  await resize(r, 120, 30);
  await ready;
  hooks!.onEvent(progress);
  hooks!.onEvent({ type: 'batch', round: 2, batchId: 'batch_7', status: 'in_progress', requests: 40, message: 'round 2: batch batch_7 is in_progress' });
  const f = await until(r, /api\.example\.com[\s\S]*round 2/);
  assert.match(f, /up\s+http:\/\/gpu-a:8000\/v1 \(qwen\) · 1\.10 req\/s · 11 ok · 0 failed · 3 in flight/);
  assert.match(f, /down\s+http:\/\/gpu-b:8000\/v1 \(qwen\) · 0\.40 req\/s · 3 ok · 3 failed · 1 in flight/);
  assert.match(f, /refused https:\/\/api\.example\.com\/v1 \(qwen\) · 0\.00 req\/s · 0 ok/);
  // The state column is as wide as its longest word, so the endpoints line up.
  assert.equal(f.indexOf('http://gpu-a') - f.lastIndexOf('\n', f.indexOf('http://gpu-a')), f.indexOf('https://api') - f.lastIndexOf('\n', f.indexOf('https://api')));
  assert.match(f, /batch round 2: batch batch_7 is in_progress/);
});

test('plain progress lines name each endpoint of a pool with its answers, failures and state', () => {
  let out = '';
  const print = generationPrinter('plain', (s) => (out += s), 0);
  print(progress);
  assert.match(out, /http:\/\/gpu-a:8000\/v1: 11 ok, http:\/\/gpu-b:8000\/v1: 3 ok\/3 failed down, https:\/\/api\.example\.com\/v1: 0 ok refused/);
});
