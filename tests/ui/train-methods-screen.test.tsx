/** @jsxRuntime automatic */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { render, cleanup } from 'ink-testing-library';
import type { TrainEvent, TrainPlanSummary } from '../../src/events.js';
import { TrainScreen, type TrainingHooks } from '../../src/ui/train/train-screen.js';
import { formatTrainEvent } from '../../src/train/progress-text.js';
import { mount, resize, until } from './ink-driver.js';

afterEach(() => cleanup());

const plan: TrainPlanSummary = {
  trainExamples: 90,
  valExamples: 10,
  droppedExamples: 0,
  epochs: 1,
  stepsPerEpoch: 30,
  totalSteps: 30,
  microBatchesPerStep: 2,
  trainTokensPerEpoch: 9000,
  responseTokensPerEpoch: 4000,
  totalParams: 1000000,
  trainableParams: 5000,
  resumedFromStep: 0,
  workers: 1,
  maxPassTokens: null,
};

/** Mounts a train screen and hands back its event callback. */
async function screen() {
  let emit: (e: TrainEvent) => void = () => {};
  let started: () => void = () => {};
  const startedP = new Promise<void>((res) => (started = res));
  const start = (h: TrainingHooks) => {
    emit = h.onEvent;
    started();
    return new Promise<void>(() => {});
  };
  const r = render(<TrainScreen title="demo → out" start={start} onExit={() => {}} />);
  await mount(r);
  await resize(r, 120, 30);
  await startedP;
  return { r, emit: (e: TrainEvent) => emit(e) };
}

test("train screen, RM: the main curve is the reward model's loss, and its accuracy, rewards and margin are shown under TRL's names", async () => {
  const { r, emit } = await screen();
  emit({ type: 'start', backend: 'cpu', device: 'CPU', plan, outDir: 'out', method: 'rm' });
  const rm = (acc: number) => ({ accuracy: acc, 'rewards/chosen': 0.4, 'rewards/rejected': -0.3, margin: 0.7 });
  emit({ type: 'eval', step: 0, evalLoss: Math.LN2, tokens: 0, method: 'rm', metrics: rm(0.5) });
  for (let s = 1; s <= 12; s++) emit({ type: 'step', step: s, total: 30, epoch: s / 30, loss: 0.69 - 0.03 * s, lr: 1e-4, gradNorm: 0.5, tokensPerSec: 800, etaSec: 30 - s, metrics: rm(0.5 + s / 30) });
  emit({ type: 'eval', step: 12, evalLoss: 0.41, tokens: 0, method: 'rm', metrics: rm(0.9) });
  const f = await until(r, /eval at step 12/);
  assert.match(f, /demo → out · RM · backend cpu/);
  assert.match(f, /RM loss • 0\.3300/);
  assert.match(f, /eval ◆ 0\.4100 \(step 12\)/);
  assert.match(f, /accuracy 90%  rewards\/chosen 0\.4  rewards\/rejected -0\.3  margin 0\.7/);
  assert.match(f, /eval at step 12: accuracy 90%/);
  assert.doesNotMatch(f, /DPO/);
  // The curve's y axis spans the RM losses (0.69 at step 0's eval down to 0.33).
  assert.match(f, /0\.6\d┤/);
});

test('train screen, PPO: the curve is the mean reward (objective/scores), with KL, clip fraction and value loss beside it', async () => {
  const { r, emit } = await screen();
  emit({ type: 'start', backend: 'cpu', device: 'CPU', plan, outDir: 'out', method: 'ppo' });
  for (let s = 1; s <= 20; s++) {
    const metrics = { 'objective/scores': -1 + 0.1 * s, 'objective/kl': 0.01 * s, 'policy/clipfrac_avg': 0.25, 'loss/value_avg': 0.25 };
    emit({ type: 'step', step: s, total: 30, epoch: s / 30, loss: 0.05, lr: 1e-5, gradNorm: 0.2, tokensPerSec: 300, etaSec: 30 - s, metrics });
  }
  const f = await until(r, /mean reward • 1\.0000/);
  assert.match(f, /· PPO · backend cpu/);
  assert.match(f, /loss 0\.0500  objective\/kl 0\.2  policy\/clipfrac_avg 25%  loss\/value_avg 0\.25/);
  // The chart's y axis is the reward's range (-0.9 … 1.0), not the PPO loss's.
  assert.match(f, /1\.0\d?┤/);
  assert.match(f, /-0\.9\d?┤/);
});

test('train screen, SFT: no method figures line when the step carries no metrics, and the curve is the loss', async () => {
  const { r, emit } = await screen();
  emit({ type: 'start', backend: 'cpu', device: 'CPU', plan, outDir: 'out' });
  for (let s = 1; s <= 5; s++) emit({ type: 'step', step: s, total: 30, epoch: s / 30, loss: 2 - 0.1 * s, lr: 1e-4, gradNorm: 0.5, tokensPerSec: 800, etaSec: 30 - s });
  const f = await until(r, /loss • 1\.5000/);
  assert.doesNotMatch(f, /· SFT/);
  assert.doesNotMatch(f, /eval at step/);
});

test("the RM run's eval line speaks of the reward model: its loss, accuracy, rewards and margin (not DPO's)", () => {
  const m = { loss: 0.41, rewardsChosen: 0.4, rewardsRejected: -0.3, margin: 0.7, accuracy: 0.9 };
  const line = formatTrainEvent({ type: 'eval', step: 12, evalLoss: 0.41, tokens: 0, method: 'rm', dpo: m }) ?? '';
  assert.match(line, /^eval at step 12: reward-model loss 0\.4100  accuracy 90%  rewards chosen\/rejected 0\.400\/-0\.300  margin 0\.700$/);
  assert.doesNotMatch(line, /DPO/);
  assert.match(formatTrainEvent({ type: 'eval', step: 12, evalLoss: 0.41, tokens: 0, method: 'dpo', dpo: m }) ?? '', /DPO loss/);
});
