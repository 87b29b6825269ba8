import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { formatAlpacaPrompt } from '../../src/model/alpaca-prompt.js';
import { forwardHidden } from '../../src/model/llama.js';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { writeAdapter } from '../../src/train/adapters/peft-files.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { runPpoTraining } from '../../src/train/methods/ppo.js';
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
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('the toy reward model scores a response ending with the liked token highest', async () => {
  const scorer = await openRolloutScorer(rmDir, { model, modelDir, cutoffLen: 256 });
  const promptIds = model.tokenizer.encode(formatAlpacaPrompt({ instruction: 'Say hi.', input: '' }));
  const tokens = [LIKED, 'a'.charCodeAt(0), 'q'.charCodeAt(0), '!'.charCodeAt(0)];
  const r = await scorer.scores(tokens.map((t) => ({ prompt: '', promptIds, response: [t, model.tokenizer.eosId] })));
  scorer.dispose();
  assert.equal(scorer.sharesBase, true);
  console.log(`# toy rewards: ${r.map((s) => s.toFixed(3)).join(", ")}`);
  assert.ok(r.slice(1).every((s) => s < r[0]!), `rewards ${r.map((s) => s.toFixed(3)).join(', ')}`);
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
