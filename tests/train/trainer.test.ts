import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { loadModel } from '../../src/model/load.js';
import { encodeExample } from '../../src/model/encode-example.js';
import { perExampleNll } from '../../src/model/loss.js';
import { RunStore } from '../../src/store/run-store.js';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { runTraining } from '../../src/train/trainer.js';
import { formatTrainEvent } from '../../src/train/progress-text.js';
import type { TrainEvent } from '../../src/events.js';
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

test('the step loss is Σ NLL over every response token of the whole accumulated batch ÷ their count', async () => {
  // B starts at zero, so at step 1 the adapted model is the base model: its loss can be computed independently.
  const events: TrainEvent[] = [];
  const samples = [SAMPLES[0]!, { ...SAMPLES[1]!, output: 'A much longer answer than the others, with many more tokens to learn from.' }, SAMPLES[2]!];
  const file = writeDataset(root, samples, 'uneven.json');
  await runTraining(quickConfig({ model: modelDir, data: file, out: join(root, 'loss-def'), batchSize: 3, microBatchSize: 1, maxSteps: 1 }), { onEvent: (e) => events.push(e) });
  const step = events.find((e) => e.type === 'step');
  assert.ok(step?.type === 'step');
  const base = await loadModel(modelDir);
  const enc = samples.map((s) => encodeExample(base.tokenizer, s, { cutoffLen: 256 }));
  const per = await perExampleNll(base, { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) });
  base.dispose();
  const pooled = per.reduce((a, p) => a + p.nllSum, 0) / per.reduce((a, p) => a + p.tokens, 0);
  const meanOfMeans = per.reduce((a, p) => a + p.nllSum / p.tokens, 0) / per.length;
  assert.ok(Math.abs(step.loss - pooled) < 1e-4 * pooled, `step loss ${step.loss}, pooled ${pooled}`);
  assert.ok(Math.abs(meanOfMeans - pooled) > 1e-2, 'the data must tell the two averages apart');
});

test('a run directory trains on its accepted or kept samples; two worker threads give the same adapter as one', async () => {
  const runDir = join(root, 'run');
  const store = RunStore.open(runDir, { create: true });
  const req = store.beginRequest([]);
  const statuses = ['kept', 'kept', 'rejected', 'kept', 'duplicate', 'kept'] as const;
  store.completeRequest(
    req,
    { raw: '', finishReason: 'stop', promptTokens: 0, completionTokens: 0, costUsd: 0 },
    SAMPLES.map((s, i) => ({ ...s, id: store.allocateItemId(), idx: i, status: statuses[i]!, reason: null, duplicateOf: null, similarity: null, similar: [] })),
  );
  const ids = store.listItems().map((i) => i.id);
  store.setReview(ids[1]!, 'rejected');
  store.setReview(ids[2]!, 'accepted');
  store.close();
  const cfg = (out: string, workers: number) => quickConfig({ model: modelDir, run: runDir, out, workers, epochs: 2, loraDropout: 0.1, learningRate: 1e-2 });
  const events: TrainEvent[] = [];
  await runTraining(cfg(join(root, 'run-1w'), 1), { onEvent: (e) => events.push(e) });
  const start = events.find((e) => e.type === 'start');
  assert.ok(start?.type === 'start' && start.plan.trainExamples === 4, 'kept 0, 3, 5 and the accepted rejected-by-rule item 2');
  const two: TrainEvent[] = [];
  await runTraining(cfg(join(root, 'run-2w'), 2), { onEvent: (e) => two.push(e) });
  const s2 = two.find((e) => e.type === 'start');
  assert.ok(s2?.type === 'start' && s2.plan.workers === 2);
  assert.ok(readFileSync(join(root, 'run-2w', 'adapter_model.safetensors')).equals(readFileSync(join(root, 'run-1w', 'adapter_model.safetensors'))));
});

test('--init-adapter continues from an existing adapter', async () => {
  const events: TrainEvent[] = [];
  // Without dropout the first step's loss is the memorised adapter's own (0.013); with p=0.05 it depends on the
  // masks drawn (0.08–0.70 over 12 seeds), which says nothing about where the run started.
  await runTraining(quickConfig({ model: modelDir, data, out: join(root, 'continued'), initAdapter: join(root, 'memorise'), loraR: 16, loraDropout: 0, maxSteps: 1 }), { onEvent: (e) => events.push(e) });
  const step = events.find((e) => e.type === 'step');
  assert.ok(step?.type === 'step' && step.loss < 0.5, `starts from the memorised adapter (loss ${step?.type === 'step' ? step.loss : '?'})`);
  assert.ok(events.some((e) => e.type === 'warning' && /using its r=8/.test(e.message)));
  const cfg = JSON.parse(readFileSync(join(root, 'continued', 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.r, 8);
});

test('without --val-set-size, min(2000, 10% of the data) is held out and the log says so; --max-steps beyond the epochs cycles the data', async () => {
  const twenty = Array.from({ length: 20 }, (_, i) => ({ ...SAMPLES[i % SAMPLES.length]!, instruction: `${SAMPLES[i % SAMPLES.length]!.instruction} (${i})` }));
  const file = writeDataset(root, twenty, 'twenty.json');
  const events: TrainEvent[] = [];
  // 18 training samples in batches of 9: 2 steps per epoch, so 5 steps run into a third epoch.
  const res = await runTraining(quickConfig({ model: modelDir, data: file, out: join(root, 'val-default'), valSetSize: null, batchSize: 9, microBatchSize: 9, epochs: 1, maxSteps: 5 }), {
    onEvent: (e) => events.push(e),
  });
  const start = events.find((e): e is Extract<TrainEvent, { type: 'start' }> => e.type === 'start')!;
  assert.equal(start.plan.valExamples, 2);
  assert.equal(start.plan.trainExamples, 18);
  assert.equal(start.plan.totalSteps, 5);
  assert.equal(start.plan.epochs, 2.5);
  assert.match(formatTrainEvent(start) ?? '', /data: 18 train \/ 2 eval samples \(--val-set-size not given: 10% of the data, at most 2000\)/);
  const steps = events.filter((e): e is Extract<TrainEvent, { type: 'step' }> => e.type === 'step');
  assert.deepEqual(steps.map((s) => s.step), [1, 2, 3, 4, 5]);
  assert.equal(steps.at(-1)!.epoch, 2.5);
  assert.equal(res.step, 5);
  // An explicit size is taken as given, and one the data cannot spare is refused.
  await assert.rejects(runTraining(quickConfig({ model: modelDir, data: file, out: join(root, 'val-big'), valSetSize: 25 })), /--val-set-size 25 leaves no training samples \(.*twenty\.json has 20\)/);
});

test('a 50 MB record is cut to the cutoff before it is tokenised, trains, and is named in a warning', async () => {
  const model = await loadModel(modelDir);
  const tok = model.tokenizer;
  model.dispose();
  const huge = { instruction: 'Summarise the log.', input: '', output: 'line of log text, '.repeat(Math.ceil(50e6 / 18)) };
  let longest = 0;
  const spy = { ...tok, encode: (text: string, o?: { addBos?: boolean }) => ((longest = Math.max(longest, text.length)), tok.encode(text, o)) };
  const cut = encodeExample(spy, huge, { cutoffLen: 256 });
  assert.ok(longest < 1e6, `tokenised ${longest} characters of a 50 MB record for 256 tokens`);
  assert.deepEqual(cut, encodeExample(tok, { ...huge, output: huge.output.slice(0, 200_000) }, { cutoffLen: 256 }), 'the same tokens as the record cut well past the cutoff');

  const file = writeDataset(root, [...SAMPLES.slice(0, 3), huge], 'huge.json');
  const events: TrainEvent[] = [];
  const res = await runTraining(quickConfig({ model: modelDir, data: file, out: join(root, 'huge'), valSetSize: 0, batchSize: 4, microBatchSize: 4, maxSteps: 1 }), { onEvent: (e) => events.push(e) });
  assert.equal(res.step, 1);
  const warning = events.find((e) => e.type === 'warning' && /record 4 \(50\.0 M chars\)/.test(e.message));
  assert.ok(warning, JSON.stringify(events.filter((e) => e.type === 'warning')));
});
