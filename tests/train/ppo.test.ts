import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { formatAlpacaPrompt } from '../../src/model/alpaca-prompt.js';
import { forwardHidden } from '../../src/model/llama.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { writeAdapter } from '../../src/train/adapters/peft-files.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { runPpoTraining } from '../../src/train/methods/ppo.js';
import { ppoLoss } from '../../src/train/methods/ppo-math.js';
import { ppoGradients, responseNumbers } from '../../src/train/methods/ppo-passes.js';
import { rolloutAdvantages, type Rollout } from '../../src/train/methods/ppo-rollout.js';
import { LoraRuntime } from '../../src/train/adapters/lora.js';
import { flatParams } from '../../src/train/adapters/lora-weights.js';
import { seededRandom } from '../../src/random.js';
import { openRolloutScorer } from '../../src/train/methods/ppo-reward.js';
import { readTrainLog } from '../../src/train/train-log.js';
import { spawnCli } from '../helpers/cli.js';
import { quickConfig, tempDir, tinyModel } from './fixtures.js';

let root: string;
let modelDir: string;
let model: LlamaModel;
let rmDir: string;
let data: string;
/** the token the toy reward model likes to see last */
const LIKED = 'x'.charCodeAt(0);

const PROMPTS = ['Say hi.', 'Name a colour.', 'Count to three.', 'Give an antonym of hot.', 'What is two plus two?', 'Name a fruit.', 'Spell cat.', 'Pick a letter.'];

/**
 * A toy reward model the test builds rather than trains: a zero LoRA (the bare base) and a score head that is a
 * linear probe for "the response ends with LIKED". The head is the direction from the mean final hidden state of
 * prompt + t (over every token t) to that of prompt + LIKED, scaled so rewards over t have unit spread. The reward
 * is then a smooth function of the last token, highest for LIKED: an easy thing for a policy to learn.
 */
async function buildProbeRewardModel(dir: string): Promise<void> {
  const H = model.config.hiddenSize;
  const V = model.tokenizer.eosId; // the byte-level tokens, below EOS
  const p = model.tokenizer.encode(formatAlpacaPrompt({ instruction: PROMPTS[0]!, input: '' }));
  const h = tf.tidy(() => {
    const hidden = forwardHidden(model, tf.tensor2d(Array.from({ length: V }, (_, t) => [...p, t]), [V, p.length + 1], 'int32'));
    return tf.reshape(tf.slice(hidden, [0, p.length, 0], [V, 1, H]), [V, H]);
  });
  const rows = (await h.data()) as Float32Array;
  h.dispose();
  const row = (t: number) => rows.subarray(t * H, (t + 1) * H);
  const meanRow = new Float64Array(H);
  for (let t = 0; t < V; t++) row(t).forEach((x, i) => (meanRow[i]! += x / V));
  const w = Float32Array.from(row(LIKED), (x, i) => x - meanRow[i]!);
  // Scaled so the rewards over the last token have unit standard deviation: the test's figures read in those.
  const r = Array.from({ length: V }, (_, t) => row(t).reduce((s, x, i) => s + x * w[i]!, 0));
  const m = r.reduce((a, b) => a + b, 0) / V;
  const sd = Math.sqrt(r.reduce((a, x) => a + (x - m) ** 2, 0) / V);
  for (let i = 0; i < H; i++) w[i]! /= sd;
  const spec = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj' as const], useRslora: false };
  const lora = initLoraWeights(spec, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 1);
  writeAdapter(dir, lora, { baseModel: modelDir, taskType: 'SEQ_CLS', modulesToSave: [{ name: 'score.weight', shape: [1, H], data: w }] });
}

before(async () => {
  await selectBackend('wasm');
  root = tempDir('ppo');
  modelDir = (await tinyModel(root)).dir;
  model = await loadModel(modelDir, { training: true });
  rmDir = join(root, 'rm');
  await buildProbeRewardModel(rmDir);
  data = join(root, 'prompts.json');
  writeFileSync(data, JSON.stringify(PROMPTS.map((instruction) => ({ instruction, input: '', output: '' }))));
});

const ppoConfig = (out: string, over: Record<string, unknown> = {}) =>
  quickConfig({ model: modelDir, data, out, rewardModel: rmDir, batchSize: 4, microBatchSize: 2, maxNewTokens: 2, temperature: 1, ppoEpochs: 2, learningRate: 1e-2, lrSchedule: 'constant', initKlCoef: 0.5, targetKl: 1, klHorizon: 8, ...over });

type Log = Array<Record<string, number>>;

test('the PPO loss on the device equals ppo-math on the numbers it saw, and its gradient matches finite differences', async () => {
  const rnd = seededRandom(7);
  const spec = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj' as const, 'v_proj' as const], useRslora: false };
  const weights = initLoraWeights({ ...spec, targetModules: ['q_proj', 'v_proj'] }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, 3);
  for (const e of weights.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = (rnd() - 0.5) * 0.2;
  const lora = new LoraRuntime(weights);
  const H = model.config.hiddenSize;
  const w = tf.variable(tf.tensor1d(Array.from({ length: H }, () => (rnd() - 0.5) * 0.2)));
  const b = tf.variable(tf.tensor1d([0.1]));
  const head = { w, b };
  const seqs = [
    { promptIds: [270, 72, 105], response: [33, 32, 120] },
    { promptIds: [270, 79, 107, 46, 32], response: [121, 269] },
  ];
  const now = await responseNumbers(model, seqs, 0.8, lora.hook(), head);
  // Old log-probs and values away from the current ones, so some ratios and values are clipped and some not.
  const targets = seqs.map((s, i) => ({
    oldLogprobs: Float64Array.from(now.logprobs[i]!, (x) => x + (rnd() - 0.5) * 0.8),
    advantages: Float64Array.from(s.response, () => rnd() * 2 - 1),
    oldValues: Float64Array.from(now.values![i]!, (x) => x + (rnd() - 0.5) * 0.8),
    returns: Float64Array.from(s.response, () => rnd() * 2 - 1),
  }));
  const N = 5;
  const clip = { clip: 0.2, clipValue: 0.2, valueCoef: 0.1 };
  const vars = [...lora.variables, w, b];
  const run = () => ppoGradients(model, seqs, targets, { temperature: 0.8, lora: lora.hook(), head, vars, clip, tokensInBatch: N });
  const r = await run();
  const cat = (xs: ArrayLike<number>[]) => xs.flatMap((x) => Array.from(x));
  const host = ppoLoss({ newLogprobs: cat(r.seen.logprobs), oldLogprobs: cat(targets.map((t) => t.oldLogprobs)), advantages: cat(targets.map((t) => t.advantages)), values: cat(r.seen.values!), oldValues: cat(targets.map((t) => t.oldValues)), returns: cat(targets.map((t) => t.returns)) }, clip);
  assert.ok(host.clipFrac > 0 && host.clipFrac < 1, `clip fraction ${host.clipFrac}`);
  assert.ok(Math.abs(r.loss - host.loss) < 1e-5, `device ${r.loss}, ppo-math ${host.loss}`);
  const params = [...flatParams(weights), Float32Array.from(await w.data()), Float32Array.from(await b.data())];
  const lossAt = async (values: Float32Array[]) => {
    lora.assign(values.slice(0, -2));
    w.assign(tf.tensor1d(values.at(-2)!));
    b.assign(tf.tensor1d(values.at(-1)!));
    return (await run()).loss;
  };
  for (const v of [1, 3, params.length - 2, params.length - 1]) {
    const g = r.grads[v]!;
    let i = 0;
    for (let k = 1; k < g.length; k++) if (Math.abs(g[k]!) > Math.abs(g[i]!)) i = k;
    const eps = 1e-2;
    const plus = params.map((p) => Float32Array.from(p));
    const minus = params.map((p) => Float32Array.from(p));
    plus[v]![i]! += eps;
    minus[v]![i]! -= eps;
    const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * eps);
    assert.ok(Math.abs(g[i]!) > 1e-4, `variable ${v}: gradient too small to check (${g[i]})`);
    assert.ok(Math.abs(numeric - g[i]!) <= 0.05 * Math.abs(g[i]!) + 1e-4, `variable ${v}[${i}]: analytic ${g[i]}, numeric ${numeric}`);
  }
  lora.dispose();
  tf.dispose([w, b]);
});
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('the toy reward model scores a response ending with the liked token highest', async () => {
  const scorer = await openRolloutScorer(rmDir, { model, modelDir, cutoffLen: 256 });
  const promptIds = model.tokenizer.encode(formatAlpacaPrompt({ instruction: 'Say hi.', input: '' }));
  const tokens = [LIKED, 'a'.charCodeAt(0), 'q'.charCodeAt(0), '!'.charCodeAt(0)];
  const seqs = tokens.map((t) => ({ prompt: formatAlpacaPrompt({ instruction: 'Say hi.', input: '' }), promptIds, response: [t, model.tokenizer.eosId] }));
  const r = await scorer.scores(seqs);
  scorer.dispose();
  assert.equal(scorer.sharesBase, true);
  assert.ok(r.slice(1).every((s) => s < r[0]!), `rewards ${r.map((s) => s.toFixed(3)).join(', ')}`);
  // A reward model on another copy of the base loads its own and scores the text: the same rewards.
  const otherBase = join(root, 'model-copy');
  cpSync(modelDir, otherBase, { recursive: true });
  const otherRm = join(root, 'rm-other-base');
  cpSync(rmDir, otherRm, { recursive: true });
  const cfgPath = join(otherRm, 'adapter_config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), base_model_name_or_path: otherBase }));
  const other = await openRolloutScorer(otherRm, { model, modelDir, cutoffLen: 256 });
  const r2 = await other.scores(seqs);
  other.dispose();
  assert.equal(other.sharesBase, false);
  r2.forEach((x, i) => assert.ok(Math.abs(x - r[i]!) < 1e-4, `${x} vs ${r[i]}`));
});

test('PPO raises the mean reward of a toy reward model over 20 steps while the KL stays below twice the target', async () => {
  const out = join(root, 'toy');
  const result = await runPpoTraining(ppoConfig(out, { maxSteps: 20 }));
  assert.equal(result.interrupted, false);
  const log = readTrainLog(join(out, 'train_log.jsonl')) as unknown as Log;
  const steps = log.filter((r) => 'loss' in r);
  assert.equal(steps.length, 20);
  for (const k of ['objective/scores', 'objective/kl', 'objective/kl_coef', 'objective/entropy', 'policy/clipfrac_avg', 'loss/value_avg', 'loss/policy_avg']) assert.equal(typeof steps[0]![k], 'number', k);
  const scores = steps.map((r) => r['objective/scores']!);
  const kls = steps.map((r) => r['objective/kl']!);
  const start = mean(scores.slice(0, 5));
  const end = mean(scores.slice(-5));
  // The KL of a batch of 4 two-token responses is a noisy sample: judged over windows of 5 steps.
  const windows = kls.slice(4).map((_, i) => mean(kls.slice(i, i + 5)));
  console.log(`# PPO toy: mean reward ${start.toFixed(3)} → ${end.toFixed(3)} (steps 1–5 → 16–20; the liked token alone scores 4.8); KL per response ${kls[0]!.toFixed(3)} → ${kls.at(-1)!.toFixed(3)}, largest 5-step mean ${Math.max(...windows).toFixed(3)}, largest step ${Math.max(...kls).toFixed(3)} (target 1); β ${steps[0]!['objective/kl_coef']} → ${steps.at(-1)!['objective/kl_coef']!.toFixed(3)}`);
  assert.ok(end > start + 0.5, `mean reward ${start} → ${end}`);
  assert.ok(Math.max(...windows) < 2, `KL over 5-step windows: ${windows.join(', ')}`);
  assert.ok(steps.at(-1)!['objective/kl_coef']! > 0.5, 'β rose: the KL ran above the target');
  // The output is the policy alone: a plain causal-LM LoRA adapter, no value head.
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['task_type'], 'CAUSAL_LM');
  assert.equal(cfg['modules_to_save'], null);
  assert.match(readFileSync(join(out, 'loss_curve.svg'), 'utf8'), /mean reward/);
});

/** The log without wall-clock figures, which differ between any two runs. */
const deterministic = (log: Log) => log.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('time/') && k !== 'tokens_per_sec')));

test('a PPO run stopped after step 2 and resumed equals an uninterrupted run: same log (rewards, KL, β) and the same adapter', async () => {
  const settings = { maxSteps: 4, batchSize: 4, microBatchSize: 2, ppoEpochs: 1, initKlCoef: 0.2, klHorizon: 4 };
  const whole = join(root, 'whole');
  await runPpoTraining(ppoConfig(whole, settings));
  const cut = join(root, 'cut');
  const controller = new AbortController();
  const first = await runPpoTraining(ppoConfig(cut, settings), { signal: controller.signal, onEvent: (e) => e.type === 'step' && e.step === 2 && controller.abort() });
  assert.equal(first.interrupted, true);
  assert.equal(first.step, 2);
  const state = JSON.parse(readFileSync(join(cut, 'checkpoints', 'step-2', 'trainer_state.json'), 'utf8')) as { methodState?: { klCoef?: number } };
  assert.equal(typeof state.methodState?.klCoef, 'number');
  const resumed = await runPpoTraining(ppoConfig(cut, settings), { resume: true });
  assert.equal(resumed.step, 4);
  const a = deterministic(readTrainLog(join(whole, 'train_log.jsonl')) as unknown as Log);
  const b = deterministic(readTrainLog(join(cut, 'train_log.jsonl')) as unknown as Log);
  assert.deepEqual(b, a);
  assert.notEqual(a[3]!['objective/kl_coef'], a[0]!['objective/kl_coef'], 'β moved, so the resumed run had to restore it');
  assert.ok(readFileSync(join(cut, 'adapter_model.safetensors')).equals(readFileSync(join(whole, 'adapter_model.safetensors'))), 'the adapters differ');
});

test('train --method ppo from the command line writes the policy adapter, the log with TRL keys and the reward chart', async () => {
  const out = join(root, 'cli');
  const args = ['train', '--method', 'ppo', '--reward-model', rmDir, '--model', modelDir, '--data', data, '--out', out, '--backend', 'wasm', '--workers', '1'];
  const r = await spawnCli([...args, '--max-steps', '2', '--batch-size', '2', '--micro-batch-size', '2', '--max-new-tokens', '2', '--ppo-epochs', '1', '--val-set-size', '2', '--eval-every', '0', '--warmup-steps', '0'], { cwd: root }).exited;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^done: 2 steps/m);
  assert.ok(existsSync(join(out, 'adapter_model.safetensors')));
  const log = readTrainLog(join(out, 'train_log.jsonl')) as unknown as Log;
  assert.deepEqual(log.map((l) => l['step']), [0, 1, 2, 2]);
  assert.equal(typeof log[1]!['objective/scores'], 'number');
  assert.equal(typeof log[0]!['eval_objective/scores'], 'number');
  const bad = await spawnCli(['train', '--method', 'ppo', '--model', modelDir, '--data', data, '--out', join(root, 'cli-bad')], { cwd: root }).exited;
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--method ppo needs --reward-model DIR/);
});

test('advantages: PPO runs GAE on the KL-penalised token rewards; RLOO gives every token its leave-one-out baseline', () => {
  const seq = (score: number, logprobs: number[], refLogprobs: number[], values: number[] | null): Rollout => ({
    prompt: '',
    promptIds: [1],
    response: logprobs.map(() => 5),
    stopped: true,
    score,
    logprobs: Float32Array.from(logprobs),
    refLogprobs: Float32Array.from(refLogprobs),
    entropy: new Float32Array(logprobs.length),
    values: values ? Float32Array.from(values) : null,
  });
  // PPO, β 0.1: token rewards [−0.05, 2.1] (KL 0.5, −1), values [0.5, 1] → A [1.495, 1.1], returns [1.995, 2.1] (ppo-math's
  // hand-worked case), then whitened with a second sequence's single advantage: score 1, KL 0, value 0 → A 1.
  const ppo = rolloutAdvantages([seq(2, [-1, -2], [-1.5, -1], [0.5, 1]), seq(1, [-1], [-1], [0])], 'ppo', 0.1, 1);
  assert.deepEqual(ppo.kl.map((k) => +k.toFixed(6)), [-0.5, 0]);
  assert.deepEqual(Array.from(ppo.returns![0]!, (x) => +x.toFixed(6)), [1.995, 2.1]);
  const all = [1.495, 1.1, 1];
  const m = all.reduce((a, b) => a + b, 0) / 3;
  const sd = Math.sqrt(all.reduce((a, x) => a + (x - m) ** 2, 0) / 2);
  assert.ok(Math.abs(ppo.advantages[0]![0]! - (1.495 - m) / sd) < 1e-6);
  // RLOO, β 0.1, one group of three: sequence rewards 2 − 0.1·(−0.5) = 2.05, 1, 0 → baselines 0.5, 1.025, 1.525.
  const rloo = rolloutAdvantages([seq(2, [-1, -2], [-1.5, -1], null), seq(1, [-1], [-1], null), seq(0, [-3, -1, -1], [-3, -1, -1], null)], 'rloo', 0.1, 3);
  assert.equal(rloo.returns, null);
  assert.deepEqual(rloo.advantages.map((a) => Array.from(a, (x) => +x.toFixed(6))), [[1.55, 1.55], [-0.025], [-1.525, -1.525, -1.525]]);
});

test('--ppo-variant grpo runs without a value head: group advantages over --samples-per-prompt responses', async () => {
  const out = join(root, 'grpo');
  await runPpoTraining(ppoConfig(out, { ppoVariant: 'grpo', samplesPerPrompt: 2, maxSteps: 1, batchSize: 2, ppoEpochs: 1 }));
  const [step] = readTrainLog(join(out, 'train_log.jsonl')) as unknown as Log;
  assert.equal(typeof step!['objective/scores'], 'number');
  assert.equal(step!['loss/value_avg'], undefined);
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['modules_to_save'], null);
  await assert.rejects(runPpoTraining(ppoConfig(join(root, 'rloo-1'), { ppoVariant: 'rloo' })), /--ppo-variant rloo needs --samples-per-prompt 2 or more/);
});

test('with --init-adapter the policy starts from it and it is the reference: the first rollout has KL 0 and differs from the bare base', async () => {
  const init = join(root, 'toy'); // the policy the toy test trained
  const out = join(root, 'from-init');
  await runPpoTraining(ppoConfig(out, { initAdapter: init, maxSteps: 1, ppoEpochs: 1, batchSize: 4 }));
  const [step] = readTrainLog(join(out, 'train_log.jsonl')) as unknown as Log;
  assert.equal(step!['objective/kl'], 0);
  const toy = (readTrainLog(join(init, 'train_log.jsonl')) as unknown as Log).filter((r) => 'loss' in r);
  // Same prompts and sampling seeds as the toy run's first step, which sampled from the bare base.
  assert.equal(step!['objective/kl_coef'], toy[0]!['objective/kl_coef']);
  assert.notEqual(step!['objective/scores'], toy[0]!['objective/scores']);
  assert.notEqual(step!['objective/entropy'], toy[0]!['objective/entropy']);
});
