import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { runTraining } from '../../src/train/trainer.js';
import type { TrainEvent } from '../../src/train/events.js';
import { SAMPLES, quickConfig, tempDir, tinyModel, writeDataset } from './fixtures.js';

let root: string;
let modelDir: string;
let data: string;
before(async () => {
  await selectBackend('wasm');
  root = tempDir('trainer');
  modelDir = (await tinyModel(root)).dir;
  data = writeDataset(root, SAMPLES.slice(0, 4));
});

test('a tiny dataset is memorised: the loss falls by a large factor', async () => {
  const events: TrainEvent[] = [];
  const out = join(root, 'memorise');
  const res = await runTraining(
    quickConfig({ model: modelDir, data, out, loraDropout: 0, learningRate: 3e-2, lrSchedule: 'constant', epochs: 40, batchSize: 4, microBatchSize: 4 }),
    { onEvent: (e) => events.push(e) },
  );
  const steps = events.filter((e): e is Extract<TrainEvent, { type: 'step' }> => e.type === 'step');
  assert.equal(steps.length, 40);
  const first = steps[0]!.loss;
  const last = steps.at(-1)!.loss;
  assert.ok(first > 2, `initial loss ${first}`);
  assert.ok(last < first / 50, `loss ${first} → ${last}`);
  assert.equal(res.interrupted, false);
  assert.equal(res.adapterDir, out);
  assert.ok(existsSync(join(out, 'adapter_model.safetensors')));
  assert.ok(existsSync(join(out, 'adapter_config.json')));
  const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log.length, 40);
  assert.deepEqual(Object.keys(log[0]), ['step', 'epoch', 'loss', 'lr', 'grad_norm', 'tokens_per_sec']);
  assert.match(readFileSync(join(out, 'loss_curve.svg'), 'utf8'), /^<svg[^>]*>[\s\S]*<path d="M/);
  const start = events.find((e) => e.type === 'start');
  assert.ok(start && start.type === 'start' && start.plan.trainExamples === 4 && start.plan.totalSteps === 40);
  assert.equal(events.at(-1)!.type, 'done');
});

function resumeConfig(out: string) {
  // 6 samples, 1 held out: 5 train in steps of 4 (micro-batches of 2) → 2 steps/epoch, 6 steps; dropout on, so
  // the masks must also be reproduced.
  return quickConfig({ model: modelDir, data: resumeData, out, valSetSize: 1, epochs: 3, saveEvery: 2, evalEvery: 2, learningRate: 1e-2, warmupSteps: 2, loraDropout: 0.1 });
}
let resumeData: string;

test('resume after Ctrl-C, or after a kill, reaches the same adapter as an uninterrupted run', async () => {
  resumeData = writeDataset(root, SAMPLES, 'six.json');
  const full = join(root, 'full');
  const a = await runTraining(resumeConfig(full));
  assert.equal(a.step, 6);
  const expected = readFileSync(join(full, 'adapter_model.safetensors'));
  const lossesOf = (dir: string) =>
    readFileSync(join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => {
      const r = JSON.parse(l);
      return r.loss ?? `eval ${r.eval_loss}`;
    });

  // Ctrl-C after step 3: a checkpoint at step 3, then --resume.
  const stopped = join(root, 'stopped');
  const ac = new AbortController();
  const b = await runTraining(resumeConfig(stopped), { signal: ac.signal, onEvent: (e) => e.type === 'step' && e.step === 3 && ac.abort() });
  assert.equal(b.interrupted, true);
  assert.equal(b.step, 3);
  assert.ok(existsSync(join(stopped, 'checkpoints', 'step-3', 'optimizer.safetensors')));
  assert.ok(!existsSync(join(stopped, 'adapter_model.safetensors')));
  await assert.rejects(runTraining(resumeConfig(stopped)), /already holds a training run/);
  const events: TrainEvent[] = [];
  const c = await runTraining(resumeConfig(stopped), { resume: true, onEvent: (e) => events.push(e) });
  assert.equal(c.step, 6);
  const start = events.find((e) => e.type === 'start');
  assert.ok(start?.type === 'start' && start.plan.resumedFromStep === 3);
  assert.equal(events.filter((e) => e.type === 'step').length, 3);
  assert.ok(readFileSync(join(stopped, 'adapter_model.safetensors')).equals(expected), 'adapter after Ctrl-C + resume differs');
  assert.deepEqual(lossesOf(stopped), lossesOf(full));
  assert.equal(c.evalLoss, a.evalLoss);

  // A kill leaves the log ahead of the last checkpoint: simulate one after step 5 with the checkpoint of step 4.
  const killed = join(root, 'killed');
  const d = new AbortController();
  await runTraining(resumeConfig(killed), { signal: d.signal, onEvent: (e) => e.type === 'step' && e.step === 4 && d.abort() });
  const { appendFileSync } = await import('node:fs');
  appendFileSync(join(killed, 'train_log.jsonl'), '{"step":5,"epoch":2.5,"loss":9,"lr":0.01,"grad_norm":1,"tokens_per_sec":1}\n{"step":6,"ep');
  await runTraining(resumeConfig(killed), { resume: true });
  assert.ok(readFileSync(join(killed, 'adapter_model.safetensors')).equals(expected), 'adapter after kill + resume differs');
  assert.deepEqual(lossesOf(killed), lossesOf(full));
});

test('resuming with changed settings is refused, naming the setting', async () => {
  const out = join(root, 'stopped');
  await assert.rejects(runTraining({ ...resumeConfig(out), learningRate: 5e-3 }, { resume: true }), /learningRate was 0\.01, now 0\.005/);
});

test('bad inputs give clear errors', async () => {
  const out = (n: string) => join(root, `bad-${n}`);
  await assert.rejects(runTraining(quickConfig({ model: modelDir, data: writeDataset(root, [], 'empty.json'), out: out('1') })), /empty\.json: no samples to train on/);
  await assert.rejects(
    runTraining(quickConfig({ model: modelDir, data: writeDataset(root, [SAMPLES[0]!, { instruction: 'x', input: '', output: '  ' }], 'blank.json'), out: out('2') })),
    /blank\.json: record 2 has an empty "output"/,
  );
  await assert.rejects(runTraining(quickConfig({ model: modelDir, data, out: out('3'), cutoffLen: 20 })), /--cutoff-len 20 is shorter than every prompt .* \(the shortest prompt is \d+ tokens\)/);
  await assert.rejects(runTraining(quickConfig({ model: modelDir, data, out: out('4'), valSetSize: 4 })), /--val-set-size 4 leaves no training samples/);
  await assert.rejects(runTraining(quickConfig({ model: modelDir, data, out: out('5'), batchSize: 2, microBatchSize: 4 })), /--micro-batch-size 4 is larger than --batch-size 2/);
  await assert.rejects(runTraining(quickConfig({ model: join(root, 'nope'), data, out: out('6') })), /nope/);
  assert.throws(() => quickConfig({ model: modelDir, data, out: out('7'), targetModules: ['c_attn' as 'q_proj'] }), /targetModules/);
});
