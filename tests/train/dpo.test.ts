import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { formatAlpacaPrompt } from '../../src/model/alpaca-prompt.js';
import { dpoPairLoss } from '../../src/train/methods/dpo-loss.js';
import { encodePreferencePairs, readPreferencePairs } from '../../src/train/methods/dpo-data.js';
import { dpoStepGradients, runDpoTraining, sequenceLogps } from '../../src/train/methods/dpo.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { readTrainLog } from '../../src/train/train-log.js';
import { seededRandom } from '../../src/random.js';
import { runCli } from '../helpers/cli.js';
import { quickConfig, tempDir, tinyModel } from './fixtures.js';

let root: string;
let modelDir: string;
let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  root = tempDir('dpo');
  modelDir = (await tinyModel(root)).dir;
  model = await loadModel(modelDir, { training: true });
});

test('DPO and IPO pair losses: ln 2 at a tie, and their derivatives match finite differences', () => {
  const at = { policyChosen: -12.5, policyRejected: -9.25, refChosen: -12.5, refRejected: -9.25 };
  assert.equal(dpoPairLoss(at, 0.1, 'sigmoid').loss, Math.LN2);
  for (const kind of ['sigmoid', 'ipo'] as const) {
    const p = { policyChosen: -10.3, policyRejected: -8.1, refChosen: -11, refRejected: -7.7 };
    const l = dpoPairLoss(p, 0.3, kind);
    const eps = 1e-6;
    const num = (key: 'policyChosen' | 'policyRejected') => (dpoPairLoss({ ...p, [key]: p[key] + eps }, 0.3, kind).loss - dpoPairLoss({ ...p, [key]: p[key] - eps }, 0.3, kind).loss) / (2 * eps);
    assert.ok(Math.abs(num('policyChosen') - l.dChosen) < 1e-6, `${kind} dChosen ${l.dChosen} vs ${num('policyChosen')}`);
    assert.ok(Math.abs(num('policyRejected') - l.dRejected) < 1e-6, `${kind} dRejected ${l.dRejected} vs ${num('policyRejected')}`);
    assert.ok(Math.abs(l.rewardChosen - 0.3 * 0.7) < 1e-12);
  }
  // Far from the tie the loss stays finite (softplus form), and a decided pair has a vanishing gradient.
  const decided = dpoPairLoss({ policyChosen: 0, policyRejected: -5000, refChosen: 0, refRejected: 0 }, 0.1, 'sigmoid');
  assert.ok(decided.loss >= 0 && decided.loss < 1e-100 && Math.abs(decided.dChosen) < 1e-100);
});

test('the DPO step gradient on a tiny model matches central finite differences of the loss', async () => {
  const spec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] as const, useRslora: false };
  const shapes = { layers: model.config.numLayers, features: (_l: number, m: 'q_proj' | 'v_proj') => projectionFeatures(model.config, m) };
  const ref = initLoraWeights({ ...spec, targetModules: [...spec.targetModules] }, shapes, 3);
  const policy = initLoraWeights({ ...spec, targetModules: [...spec.targetModules] }, shapes, 5);
  // A non-zero B, so the policy differs from the reference and A has a gradient too.
  const rnd = seededRandom(9);
  for (const e of policy.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = (rnd() - 0.5) * 0.2;
  const raw = [
    { prompt: formatAlpacaPrompt({ instruction: 'Say yes.', input: '' }), chosen: 'Yes.', rejected: 'Nope!' },
    { prompt: formatAlpacaPrompt({ instruction: 'Name a colour.', input: '' }), chosen: 'Blue', rejected: 'I will not.' },
  ];
  const pairs = encodePreferencePairs(model.tokenizer, raw, 512).encoded;
  const lora = new LoraRuntime(ref);
  const refLp = await sequenceLogps(model, lora, pairs.flatMap((p) => [p.chosen, p.rejected]));
  const reference = pairs.map((_, i) => ({ chosen: refLp[2 * i]!, rejected: refLp[2 * i + 1]! }));
  const params = flatParams(policy);
  lora.assign(params);
  const beta = 0.5;
  const { grads } = await dpoStepGradients(model, lora, pairs, reference, { beta, loss: 'sigmoid', dropoutSeed: () => 1 });
  const lossAt = async (values: Float32Array[]) => {
    lora.assign(values);
    const lp = await sequenceLogps(model, lora, pairs.flatMap((p) => [p.chosen, p.rejected]));
    return pairs.reduce((s, _, i) => s + dpoPairLoss({ policyChosen: lp[2 * i]!, policyRejected: lp[2 * i + 1]!, refChosen: reference[i]!.chosen, refRejected: reference[i]!.rejected }, beta, 'sigmoid').loss, 0) / pairs.length;
  };
  // The largest analytic components of an A and a B matrix, perturbed one at a time.
  const checked: Array<{ v: number; i: number }> = [];
  for (const v of [0, 1, 2, 3]) {
    const g = grads[v]!;
    let best = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[best]!)) best = i;
    checked.push({ v, i: best });
  }
  for (const { v, i } of checked) {
    const eps = 1e-2;
    const plus = params.map((p) => Float32Array.from(p));
    const minus = params.map((p) => Float32Array.from(p));
    plus[v]![i]! += eps;
    minus[v]![i]! -= eps;
    const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * eps);
    const analytic = grads[v]![i]!;
    assert.ok(Math.abs(analytic) > 1e-4, `variable ${v}: gradient too small to check (${analytic})`);
    assert.ok(Math.abs(numeric - analytic) <= 0.03 * Math.abs(analytic) + 1e-5, `variable ${v}[${i}]: analytic ${analytic}, numeric ${numeric}`);
  }
  lora.dispose();
});

/** Chosen: always the same polite answer; rejected: a refusal. The preference has to generalise to new prompts. */
function toyPairs(n: number, offset: number) {
  const topics = ['rivers', 'stars', 'bread', 'chess', 'rain', 'clocks', 'maps', 'tea', 'bees', 'glass', 'kites', 'salt', 'wolves', 'ink', 'snow', 'gold', 'moss', 'drums', 'ice', 'owls', 'wheat', 'ships', 'sand', 'lamps', 'frogs'];
  return Array.from({ length: n }, (_, k) => {
    const t = topics[(k + offset) % topics.length]!;
    return { instruction: `Tell me one fact about ${t} (${k + offset}).`, input: '', chosen: 'Sure, here is one.', rejected: 'No way.' };
  });
}

test('DPO starts at exactly ln 2 and lifts held-out preference accuracy from 50% to at least 90%; the adapter is a PEFT adapter', async () => {
  const data = join(root, 'pairs.jsonl');
  const pairs = [...toyPairs(24, 0), ...toyPairs(8, 100)];
  writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join('\n'));
  assert.equal(readPreferencePairs(data).length, 32);
  const out = join(root, 'dpo-out');
  const steps: number[] = [];
  const result = await runDpoTraining(
    quickConfig({ model: modelDir, data, out, cutoffLen: 512, valSetSize: 8, batchSize: 8, epochs: 8, learningRate: 2e-2, loraDropout: 0.05, evalEvery: 0 }),
    { beta: 0.1, loss: 'sigmoid' },
    { onEvent: (e) => e.type === 'step' && steps.push(e.loss) },
  );
  assert.equal(result.interrupted, false);
  assert.equal(steps[0], Math.LN2, 'policy = reference at step 1: the loss is exactly ln 2');
  const log = readTrainLog(join(out, 'train_log.jsonl'));
  const evals = log.filter((r) => 'eval_loss' in r) as Array<Record<string, number>>;
  assert.equal(evals[0]!['step'], 0);
  assert.equal(evals[0]!['eval_rewards/accuracies'], 0.5, 'every held-out pair ties before training');
  const final = evals.at(-1)!;
  assert.ok(final['eval_rewards/accuracies']! >= 0.9, `held-out accuracy ${final['eval_rewards/accuracies']}`);
  assert.ok(final['eval_loss']! < Math.LN2, `held-out DPO loss ${final['eval_loss']}`);
  const stepRecord = log.find((r) => 'loss' in r) as Record<string, number>;
  for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies']) assert.equal(typeof stepRecord[k], 'number', k);
  assert.ok(existsSync(join(out, 'adapter_model.safetensors')));
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['peft_type'], 'LORA');
  assert.ok(existsSync(join(out, 'reference_logps.json')), 'reference log-probs are cached');
});

test('train --method dpo runs from the CLI and refuses SFT-only data', async () => {
  const data = join(root, 'cli-pairs.jsonl');
  const promptPairs = toyPairs(6, 7).map((p) => ({ prompt: formatAlpacaPrompt(p), chosen: p.chosen, rejected: p.rejected }));
  writeFileSync(data, promptPairs.map((p) => JSON.stringify(p)).join('\n'));
  const out = join(root, 'cli-out');
  const first = await runCli(['train', '--method', 'dpo', '--model', modelDir, '--data', data, '--out', out, '--backend', 'wasm', '--val-set-size', '0', '--batch-size', '2', '--micro-batch-size', '2', '--cutoff-len', '512', '--warmup-steps', '0', '--epochs', '1', '--max-steps', '2', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const events = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; dpo?: { accuracy: number } });
  const stepEvents = events.filter((e) => e.type === 'step');
  assert.equal(stepEvents.length, 2);
  assert.equal(typeof stepEvents[0]!.dpo?.accuracy, 'number');
  assert.ok(existsSync(join(out, 'adapter_model.safetensors')));

  const sft = join(root, 'sft.json');
  writeFileSync(sft, JSON.stringify([{ instruction: 'a', input: '', output: 'b' }]));
  const bad = await runCli(['train', '--method', 'dpo', '--model', modelDir, '--data', sft, '--out', join(root, 'bad'), '--val-set-size', '0']);
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(bad.stderr, /field "chosen"/);
});

test('an interrupted DPO run resumes to the same adapter as an uninterrupted one', async () => {
  const data = join(root, 'resume-pairs.jsonl');
  writeFileSync(data, toyPairs(8, 40).map((p) => JSON.stringify(p)).join('\n'));
  const config = (out: string) => quickConfig({ model: modelDir, data, out, cutoffLen: 512, valSetSize: 0, batchSize: 2, epochs: 1, learningRate: 1e-2, saveEvery: 0 });
  const whole = join(root, 'whole');
  await runDpoTraining(config(whole), { beta: 0.1, loss: 'sigmoid' });
  const split = join(root, 'split');
  const controller = new AbortController();
  const stopped = await runDpoTraining(config(split), { beta: 0.1, loss: 'sigmoid' }, { signal: controller.signal, onEvent: (e) => e.type === 'step' && e.step === 2 && controller.abort() });
  assert.equal(stopped.interrupted, true);
  assert.equal(stopped.step, 2);
  const resumed = await runDpoTraining(config(split), { beta: 0.1, loss: 'sigmoid' }, { resume: true });
  assert.equal(resumed.step, 4);
  assert.deepEqual(readFileSync(join(split, 'adapter_model.safetensors')), readFileSync(join(whole, 'adapter_model.safetensors')));
});

test('train --method dpo --run and --emit-recipe take the pairs of a ranked run (a person first, the judge otherwise)', async () => {
  const { makeResponseRun, threeSamples } = await import('../respond/response-fixture.js');
  const run = makeResponseRun(threeSamples());
  // Item 1 ranked by a person (response 2 best, response 3 worst), item 2 by the judge, item 3 not at all.
  run.responses.addHumanRanking(run.itemIds[0]!, 'best-worst', [[run.ids[0]![1]!], [run.ids[0]![0]!], [run.ids[0]![2]!]]);
  run.responses.setJudgeRanking(run.itemIds[1]!, [[run.ids[1]![0]!], [run.ids[1]![2]!], [run.ids[1]![1]!]]);
  run.store.close();
  const out = join(root, 'dpo-run-out');
  const r = await runCli(['train', '--method', 'dpo', '--model', modelDir, '--run', run.dir, '--out', out, '--backend', 'wasm', '--val-set-size', '0', '--batch-size', '2', '--micro-batch-size', '2', '--cutoff-len', '512', '--warmup-steps', '0', '--max-steps', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const start = r.stdout.split('\n').map((l) => JSON.parse(l || '{}') as { type?: string; plan?: { trainExamples: number } }).find((e) => e.type === 'start');
  assert.equal(start?.plan?.trainExamples, 2, 'two ranked samples give two best-worst pairs');

  const recipeDir = join(root, 'dpo-recipe');
  const rec = await runCli(['train', '--emit-recipe', 'llamafactory', '--method', 'dpo', '--model', 'Qwen/Qwen2.5-0.5B', '--run', run.dir, '--out', recipeDir, '--val-set-size', '0']);
  assert.equal(rec.code, 0, rec.stderr);
  const pairs = JSON.parse(readFileSync(join(recipeDir, 'pairs.json'), 'utf8')) as Array<{ instruction: string; chosen: string; rejected: string }>;
  assert.deepEqual(pairs.map((p) => [p.chosen, p.rejected]), [['Red, yellow, blue.', 'Green.'], ['2, 5, 9', '9, 5, 2']]);
});

test('a DPO resume with a changed setting is refused with the same message as SFT, naming old and new value', async () => {
  const data = join(root, 'resume-pairs-msg.jsonl');
  writeFileSync(data, toyPairs(4, 41).map((p) => JSON.stringify(p)).join('\n'));
  const out = join(root, 'resume-msg');
  const config = quickConfig({ model: modelDir, data, out, cutoffLen: 512, valSetSize: 0, batchSize: 2, epochs: 1, learningRate: 1e-2, saveEvery: 1 });
  await runDpoTraining(config, { beta: 0.1, loss: 'sigmoid' });
  await assert.rejects(runDpoTraining({ ...config, learningRate: 5e-3 }, { beta: 0.1, loss: 'sigmoid' }, { resume: true }), /learningRate was 0\.01, now 0\.005/);
  await assert.rejects(runDpoTraining(config, { beta: 0.2, loss: 'sigmoid' }, { resume: true }), /beta was 0\.1, now 0\.2/);
});
