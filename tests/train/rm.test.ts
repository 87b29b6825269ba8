import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { formatAlpacaPrompt } from '../../src/model/alpaca-prompt.js';
import { openSafetensors } from '../../src/model/safetensors.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams, initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { splitTrainVal } from '../../src/train/batching.js';
import { rewardPairLoss } from '../../src/train/methods/rm-loss.js';
import { encodeRewardPairs, rewardStepGradients, runRewardTraining } from '../../src/train/methods/rm.js';
import { sequenceRewards } from '../../src/train/methods/reward-head.js';
import { loadRewardModel } from '../../src/train/methods/reward-model.js';
import { readTrainLog } from '../../src/train/train-log.js';
import { seededRandom } from '../../src/random.js';
import { quickConfig, tempDir, tinyModel } from './fixtures.js';

let root: string;
let modelDir: string;
let model: LlamaModel;
/** the reward model the toy test trains, scored from the CLI by the curate test */
let trainedRm: string;
before(async () => {
  await selectBackend('wasm');
  root = tempDir('rm');
  modelDir = (await tinyModel(root)).dir;
  model = await loadModel(modelDir, { training: true });
});

test('the Bradley–Terry pair loss: ln 2 at a tie, finite far from it, and its derivatives match finite differences (with a margin)', () => {
  assert.equal(rewardPairLoss(0.3, 0.3).loss, Math.LN2);
  for (const margin of [0, 0.7]) {
    const l = rewardPairLoss(1.2, -0.4, margin);
    assert.ok(Math.abs(l.loss - -Math.log(1 / (1 + Math.exp(-(1.6 - margin))))) < 1e-12);
    const eps = 1e-6;
    const dc = (rewardPairLoss(1.2 + eps, -0.4, margin).loss - rewardPairLoss(1.2 - eps, -0.4, margin).loss) / (2 * eps);
    const dr = (rewardPairLoss(1.2, -0.4 + eps, margin).loss - rewardPairLoss(1.2, -0.4 - eps, margin).loss) / (2 * eps);
    assert.ok(Math.abs(dc - l.dChosen) < 1e-8 && Math.abs(dr - l.dRejected) < 1e-8, `margin ${margin}: ${l.dChosen}/${dc}, ${l.dRejected}/${dr}`);
  }
  const far = rewardPairLoss(-4000, 4000);
  assert.ok(Number.isFinite(far.loss) && Math.abs(far.loss - 8000) < 1e-9);
});

test('the reward-model step gradient (LoRA and score head) matches central finite differences of the loss', async () => {
  const spec = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj' as const], useRslora: false };
  const shapes = { layers: model.config.numLayers, features: (_l: number, m: 'q_proj' | 'v_proj') => projectionFeatures(model.config, m) };
  const weights = initLoraWeights({ ...spec, targetModules: ['q_proj', 'v_proj'] }, shapes, 5);
  const rnd = seededRandom(3);
  for (const e of weights.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = (rnd() - 0.5) * 0.2;
  const head = Float32Array.from({ length: model.config.hiddenSize }, () => (rnd() - 0.5) * 0.5);
  const raw = [
    { prompt: formatAlpacaPrompt({ instruction: 'Say yes.', input: '' }), chosen: 'Yes.', rejected: 'Nope!', margin: 0.25 },
    { prompt: formatAlpacaPrompt({ instruction: 'Name a colour.', input: '' }), chosen: 'Blue', rejected: 'I will not.' },
  ];
  const pairs = encodeRewardPairs(model.tokenizer, raw, 512).examples;
  const lora = new LoraRuntime(weights);
  const score = tf.variable(tf.tensor1d(head), true);
  const params = [...flatParams(weights), head];
  const { grads } = await rewardStepGradients(model, lora, score, pairs, () => 1);
  const lossAt = async (values: Float32Array[]) => {
    lora.assign(values.slice(0, -1));
    const w = tf.tensor1d(values.at(-1)!);
    const r = await sequenceRewards(model, pairs.flatMap((p) => [p.chosen, p.rejected]), w, lora.hook());
    w.dispose();
    return pairs.reduce((s, p, i) => s + rewardPairLoss(r[2 * i]!, r[2 * i + 1]!, p.margin).loss, 0) / pairs.length;
  };
  const last = params.length - 1;
  for (const v of [0, 1, 2, 3, last]) {
    const g = grads[v]!;
    let i = 0;
    for (let k = 1; k < g.length; k++) if (Math.abs(g[k]!) > Math.abs(g[i]!)) i = k;
    const eps = 1e-2;
    const plus = params.map((p) => Float32Array.from(p));
    const minus = params.map((p) => Float32Array.from(p));
    plus[v]![i]! += eps;
    minus[v]![i]! -= eps;
    const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * eps);
    assert.ok(Math.abs(g[i]!) > 1e-4, `variable ${v}: gradient too small to check (${g[i]})`);
    assert.ok(Math.abs(numeric - g[i]!) <= 0.03 * Math.abs(g[i]!) + 1e-5, `variable ${v}[${i}]: analytic ${g[i]}, numeric ${numeric}`);
  }
  lora.dispose();
  score.dispose();
});

/** Chosen answers are on topic and polite, rejected ones curt and off topic, in varied words: a learnable signal. */
function toyRewardPairs(n: number, offset: number) {
  const topics = ['rivers', 'stars', 'bread', 'chess', 'rain', 'clocks', 'maps', 'tea', 'bees', 'glass', 'kites', 'salt', 'wolves', 'ink', 'snow', 'gold', 'moss', 'drums', 'ice', 'owls', 'wheat', 'ships', 'sand', 'lamps', 'frogs'];
  const openers = ['Sure', 'Gladly', 'Of course', 'Happy to help'];
  const curt = ['No.', 'Ask someone else.', 'Whatever.', 'Not now.'];
  return Array.from({ length: n }, (_, k) => {
    const t = topics[(k + offset) % topics.length]!;
    return { instruction: `Tell me one fact about ${t} (${k + offset}).`, input: '', chosen: `${openers[k % 4]}: ${t} are interesting.`, rejected: curt[(k + offset) % 4]! };
  });
}

test('a reward model learns a held-out preference from 50% to at least 90%, logs TRL keys, and its saved PEFT files give the same rewards', async () => {
  const data = join(root, 'pairs.jsonl');
  const pairs = [...toyRewardPairs(32, 0), ...toyRewardPairs(12, 100)];
  writeFileSync(data, pairs.map((p) => JSON.stringify(p)).join('\n'));
  const out = join(root, 'rm-out');
  trainedRm = out;
  const config = quickConfig({ model: modelDir, data, out, cutoffLen: 512, valSetSize: 12, batchSize: 8, epochs: 6, learningRate: 2e-2, loraDropout: 0, evalEvery: 0, warmupSteps: 2 });
  const steps: number[] = [];
  const result = await runRewardTraining(config, { onEvent: (e) => e.type === 'step' && steps.push(e.loss) });
  assert.equal(result.interrupted, false);
  assert.equal(steps[0], Math.LN2, 'the zero head ties every pair at step 1');
  const log = readTrainLog(join(out, 'train_log.jsonl')) as Array<Record<string, number>>;
  const evals = log.filter((r) => 'eval_loss' in r);
  assert.equal(evals[0]!['eval_accuracy'], 0.5);
  const final = evals.at(-1)!;
  assert.ok(final['eval_accuracy']! >= 0.9, `held-out accuracy ${final['eval_accuracy']}`);
  for (const k of ['accuracy', 'rewards/chosen', 'rewards/rejected', 'margin']) assert.equal(typeof log.find((r) => 'loss' in r)![k], 'number', k);
  console.log(`# RM toy: held-out accuracy ${evals[0]!['eval_accuracy']} → ${final['eval_accuracy']}, eval loss ${evals[0]!['eval_loss']!.toFixed(4)} → ${final['eval_loss']!.toFixed(4)}`);

  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['task_type'], 'SEQ_CLS');
  assert.deepEqual(cfg['modules_to_save'], ['score']);
  const st = openSafetensors(join(out, 'adapter_model.safetensors'));
  assert.deepEqual(st.info('base_model.model.score.weight').shape, [1, model.config.hiddenSize]);
  st.close();

  // The saved files, loaded as a reward model, score the held-out pairs as the last evaluation did.
  const { val } = splitTrainVal(pairs.length, 12, config.seed);
  const rm = await loadRewardModel(out, { cutoffLen: 512 });
  const held = val.map((i) => pairs[i]!);
  const r = await rm.rewards(held.flatMap((p) => [{ prompt: formatAlpacaPrompt(p), response: p.chosen }, { prompt: formatAlpacaPrompt(p), response: p.rejected }]));
  rm.dispose();
  const meanChosen = held.reduce((s, _, i) => s + r[2 * i]!, 0) / held.length;
  const meanRejected = held.reduce((s, _, i) => s + r[2 * i + 1]!, 0) / held.length;
  assert.ok(Math.abs(meanChosen - final['eval_rewards/chosen']!) < 1e-4, `loaded ${meanChosen}, trained ${final['eval_rewards/chosen']}`);
  assert.ok(Math.abs(meanRejected - final['eval_rewards/rejected']!) < 1e-4);
});

test('curate --reward-model orders a run\'s responses by the trained reward, as the judge\'s ranking', async () => {
  const { runCli } = await import('../helpers/cli.js');
  const { makeResponseRun } = await import('../respond/response-fixture.js');
  const { ResponseStore } = await import('../../src/store/responses.js');
  const { RunStore } = await import('../../src/store/run-store.js');
  const run = makeResponseRun([
    { instruction: 'Tell me one fact about comets (500).', output: 'No.', responses: ['Of course: comets are interesting.', 'Whatever.'] },
    { instruction: 'Tell me one fact about tides (501).', output: 'Gladly: tides are interesting.', responses: ['Not now.', 'Ask someone else.'] },
  ]);
  run.store.close();
  const r = await runCli(['curate', '--run', run.dir, '--reward-model', trainedRm, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ranked: number }).ranked, 2);
  const store = RunStore.open(run.dir);
  const rankings = new ResponseStore(store).currentRankings('judge');
  const rm = await loadRewardModel(trainedRm, { cutoffLen: 512 });
  for (const [k, itemId] of run.itemIds.entries()) {
    const tiers = rankings.get(itemId)!.tiers!;
    const texts = new Map(new ResponseStore(store).responsesByItem().get(itemId)!.map((x) => [x.id, x.text!]));
    const order = tiers.flat().map((id) => texts.get(id)!);
    // The polite, on-topic answer is first in each; the order is that of the rewards the model gives.
    assert.match(order[0]!, /interesting/, `sample ${k}: ${order.join(' | ')}`);
    const item = store.usableItems().find((i) => i.id === itemId)!;
    const rewards = await rm.rewards(order.map((response) => ({ prompt: formatAlpacaPrompt(item), response })));
    for (let i = 1; i < rewards.length; i++) assert.ok(rewards[i - 1]! >= rewards[i]!, `rewards not descending: ${rewards.join(', ')}`);
  }
  rm.dispose();
  store.close();
});
