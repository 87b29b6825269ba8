import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { resolve } from 'node:path';
import { DataError, ModelError, UsageError } from '../../errors.js';
import type { TrainConfig } from '../../config/train.js';
import { formatAlpacaPrompt } from '../../model/alpaca-prompt.js';
import { encodeHead } from '../../model/encode-example.js';
import type { LlamaModel } from '../../model/load.js';
import type { Sample } from '../../data/sample.js';
import { LoraRuntime } from '../adapters/lora.js';
import type { NamedTensor } from '../adapters/peft-files.js';
import { explainBackendError } from '../engines/gradients.js';
import { hostUpdate } from '../host-update.js';
import type { MethodSession, TrainingMethod } from '../method.js';
import { mixSeed } from '../rng.js';
import { runTrainer, type TrainResult, type TrainRunOptions } from '../run-trainer.js';
import { readAlpacaFile } from '../../data/alpaca-file.js';
import { AdaptiveKlController, ppoLoss, type ClipSettings } from './ppo-math.js';
import { ppoGradients, type ValueHead } from './ppo-passes.js';
import { collectRollouts, rolloutAdvantages, type PpoPrompt, type PpoVariant, type Rollout } from './ppo-rollout.js';
import { openRolloutScorer } from './ppo-reward.js';

/** TRL's value head on a causal LM (AutoModelForCausalLMWithValueHead): v_head.summary, Linear(hidden, 1). */
export const VALUE_HEAD_WEIGHT = 'v_head.summary.weight';
export const VALUE_HEAD_BIAS = 'v_head.summary.bias';

/** What a PPO checkpoint keeps beside the weights and optimizer (trainer_state.json's methodState). */
const ppoStateSchema = z.object({ klCoef: z.number().min(0) });

/** TRL's PPO defaults: cliprange 0.2, cliprange_value 0.2, vf_coef 0.1. */
const CLIP: ClipSettings = { clip: 0.2, clipValue: 0.2, valueCoef: 0.1 };

/** The settings of a PPO run a resumed run must share (beside the skeleton's own). */
function ppoSettings(c: TrainConfig): Record<string, unknown> {
  return {
    method: 'ppo',
    rewardModel: c.rewardModel ? resolve(c.rewardModel) : null,
    ppoVariant: c.ppoVariant,
    ppoEpochs: c.ppoEpochs,
    samplesPerPrompt: c.samplesPerPrompt,
    temperature: c.temperature,
    maxNewTokens: c.maxNewTokens,
    initKlCoef: c.initKlCoef,
    targetKl: c.targetKl,
    klHorizon: c.klHorizon,
  };
}

/** Refuses settings PPO cannot run with, before anything loads. */
export function checkPpoConfig(c: TrainConfig): void {
  if (!c.rewardModel) throw new UsageError('--method ppo needs --reward-model DIR', 'train one first: alpaca-forge train --method rm --run output/NAME --model DIR --out RM_DIR');
  if (c.ppoVariant !== 'ppo' && c.samplesPerPrompt < 2) throw new UsageError(`--ppo-variant ${c.ppoVariant} needs --samples-per-prompt 2 or more`, 'its baseline is the other responses to the same prompt: pass --samples-per-prompt 4');
  if (c.adapter !== 'lora') throw new UsageError(`--method ppo trains a LoRA adapter, not --adapter ${c.adapter}`, 'drop --adapter');
}

/**
 * RLHF with PPO (Ziegler et al. 2019; InstructGPT), as TRL's PPOTrainer with a value head: each step samples
 * responses to a batch of prompts with the policy (base + the LoRA being trained, which starts from
 * --init-adapter), scores them with the reward model, penalises each token by β·(log π − log π_ref) against the
 * frozen reference (base + --init-adapter), and runs --ppo-epochs epochs of the clipped objective with GAE and a
 * clipped value loss over that batch; β follows the adaptive KL controller toward --target-kl. Dropout is off, as
 * in TRL, so the rollout's log-probs are the first epoch's. The output is the policy as a plain PEFT LoRA adapter;
 * the value head lives in checkpoints only.
 */
export function ppoMethod(config: TrainConfig): TrainingMethod<Sample, PpoPrompt> {
  const variant = config.ppoVariant as PpoVariant;
  const samples = variant === 'ppo' ? 1 : config.samplesPerPrompt;
  return {
    name: 'ppo',
    unit: 'prompts',
    settings: ppoSettings(config),
    metadata: { method: 'ppo', ppo_variant: variant },
    workers: false,
    evalAtStart: true,
    extrasInOutput: false,
    chart: { key: 'objective/scores', label: 'mean reward' },
    async read(c) {
      checkPpoConfig(c);
      return readPpoPrompts(c);
    },
    encode(tok, items, c) {
      const examples: PpoPrompt[] = [];
      for (const s of items) {
        const prompt = formatAlpacaPrompt(s);
        const promptIds = encodeHead(tok, prompt, c.cutoffLen + 1);
        // A prompt longer than the cutoff would be answered without its end: skipped, as SFT skips them.
        if (promptIds.length <= c.cutoffLen) examples.push({ prompt, promptIds });
      }
      return { examples, dropped: items.length - examples.length };
    },
    fingerprint(train, val) {
      const h = createHash('sha256');
      for (const p of [...train, ...val]) h.update(JSON.stringify(p.promptIds));
      return h.digest('hex').slice(0, 16);
    },
    length: (p) => p.promptIds.length,
    tokens: (p) => ({ input: p.promptIds.length, response: 0 }),
    microBatchSize: (c) => c.microBatchSize,
    microBatchesPerStep: (c, n) => Math.ceil(Math.min(c.batchSize, n) / c.microBatchSize),
    extraParams: (mcfg): NamedTensor[] =>
      variant === 'ppo'
        ? [
            // Zero: the value head starts predicting 0 everywhere, whatever the seed.
            { name: VALUE_HEAD_WEIGHT, shape: [1, mcfg.hiddenSize], data: new Float32Array(mcfg.hiddenSize) },
            { name: VALUE_HEAD_BIAS, shape: [1], data: new Float32Array(1) },
          ]
        : [],
    async start(ctx): Promise<MethodSession> {
      const { config: c, train, val, params, opt } = ctx;
      const model = ctx.model as LlamaModel;
      const policy = new LoraRuntime({ ...ctx.weights, spec: { ...ctx.weights.spec, dropout: 0 } });
      // Without --init-adapter the reference is the bare base (a fresh adapter adds zero): no hook at all.
      const reference = c.initAdapter ? new LoraRuntime({ ...ctx.initialWeights(), spec: { ...ctx.initialWeights().spec, dropout: 0 } }) : null;
      const nLora = policy.variables.length;
      const head: (ValueHead & { w: tf.Variable; b: tf.Variable }) | null =
        variant === 'ppo' ? { w: tf.variable(tf.tensor1d(ctx.extras[0]!.data), true), b: tf.variable(tf.tensor1d(ctx.extras[1]!.data), true) } : null;
      const vars = [...policy.variables, ...(head ? [head.w, head.b] : [])];
      const assign = () => {
        policy.assign(params.slice(0, nLora));
        if (head) {
          head.w.assign(tf.tensor1d(params[nLora]!));
          head.b.assign(tf.tensor1d(params[nLora + 1]!));
        }
      };
      let scorer;
      try {
        scorer = await openRolloutScorer(c.rewardModel!, { model, modelDir: ctx.modelDir, cutoffLen: c.cutoffLen });
      } catch (e) {
        policy.dispose();
        reference?.dispose();
        if (head) tf.dispose([head.w, head.b]);
        throw e;
      }
      // The coefficient the interrupted run had reached; a fresh run starts from --init-kl-coef.
      const klCoef = ppoStateSchema.safeParse(ctx.resumedState).data?.klCoef ?? c.initKlCoef;
      const kl = new AdaptiveKlController(klCoef, c.targetKl ?? 1, c.klHorizon);
      if (val.length > 256) ctx.warnings.push(`PPO evaluates by sampling a response to each of ${val.length} held-out prompts; lower --val-set-size to make evaluations cheaper`);
      const nets = () => ({ policy: policy.hook(), reference: reference?.hook(), head, scorer });

      return {
        maxPassTokens: null,
        checkpointState: () => ({ klCoef: kl.value, sampler: 'counter: seed(seed, step, prompt, sample)' }),
        async step(groups, at, signal) {
          assign();
          const batches = groups.map((g) => g.map((i) => train[i]!));
          const seedOf = (prompt: number, sample: number) => mixSeed(c.seed, 0x9901, at.step - 1, prompt, sample);
          let collected;
          try {
            collected = await collectRollouts(model, batches, { temperature: c.temperature, maxNewTokens: c.maxNewTokens, samples, seedOf }, nets(), signal);
          } catch (e) {
            throw explainBackendError(e);
          }
          const rollouts = collected.rollouts.flat();
          const beta = kl.value;
          const adv = rolloutAdvantages(rollouts, variant, beta, samples);
          const responseTokens = rollouts.reduce((n, r) => n + r.response.length, 0);
          const seqTokens = rollouts.reduce((n, r) => n + r.promptIds.length + r.response.length, 0);

          // --ppo-epochs passes over the batch, one optimizer step each (TRL's num_mini_batches 1), the gradient
          // accumulated over micro-batches. Not abortable: a step is applied whole or not at all.
          const t0 = performance.now();
          const stats: Array<ReturnType<typeof ppoLoss> & { entropy: number }> = [];
          let gradNorm = 0;
          for (let epoch = 0; epoch < c.ppoEpochs; epoch++) {
            if (epoch > 0) assign();
            const sums = vars.map((v) => new Float64Array(v.size));
            const seen = { logprobs: [] as Float32Array[], values: [] as Float32Array[], entropy: [] as Float32Array[] };
            let at0 = 0;
            for (const batch of collected.rollouts) {
              const idx = batch.map((_, i) => at0 + i);
              at0 += batch.length;
              let r;
              try {
                r = await ppoGradients(
                  model,
                  batch,
                  idx.map((i) => ({ oldLogprobs: rollouts[i]!.logprobs, advantages: adv.advantages[i]!, ...(head ? { oldValues: rollouts[i]!.values!, returns: adv.returns![i]! } : {}) })),
                  { temperature: c.temperature, lora: policy.hook(), head, vars, clip: CLIP, tokensInBatch: responseTokens },
                );
              } catch (e) {
                throw explainBackendError(e);
              }
              r.grads.forEach((g, v) => {
                const s = sums[v]!;
                for (let i = 0; i < s.length; i++) s[i] = s[i]! + g[i]!;
              });
              seen.logprobs.push(...r.seen.logprobs);
              seen.entropy.push(...r.seen.entropy);
              if (r.seen.values) seen.values.push(...r.seen.values);
            }
            const l = epochLoss(rollouts, adv, seen, head !== null);
            if (!Number.isFinite(l.loss)) throw new ModelError(`PPO loss became ${l.loss} at step ${at.step}`, 'lower --learning-rate, and resume from the last checkpoint with --resume');
            stats.push(l);
            gradNorm = hostUpdate(params, sums.map((s) => Float32Array.from(s)), opt, c.maxGradNorm, at.lr);
          }
          const updateSeconds = (performance.now() - t0) / 1000;
          const meanKl = mean(adv.kl);
          if (c.targetKl !== null) kl.update(meanKl, rollouts.length);
          const avg = (f: (s: (typeof stats)[number]) => number) => mean(stats.map(f));
          const scores = rollouts.map((r) => r.score);
          const log: Record<string, number> = {
            'objective/scores': mean(scores),
            'objective/kl': meanKl,
            'objective/kl_coef': beta,
            'objective/entropy': mean(rollouts.map((r) => sum(r.entropy))),
            'objective/non_score_reward': -beta * meanKl,
            'objective/rlhf_reward': mean(scores) - beta * meanKl,
            'policy/clipfrac_avg': avg((s) => s.clipFrac),
            'policy/approxkl_avg': avg((s) => s.approxKl),
            'policy/entropy_avg': avg((s) => s.entropy),
            'loss/policy_avg': avg((s) => s.policyLoss),
            ...(head ? { 'loss/value_avg': avg((s) => s.valueLoss), 'val/clipfrac_avg': avg((s) => s.valueClipFrac) } : {}),
            'val/num_eos_tokens': rollouts.filter((r) => r.stopped).length,
            'val/response_length': responseTokens / rollouts.length,
            'time/rollout_tokens_per_sec': responseTokens / collected.sampleSeconds,
            'time/update_tokens_per_sec': (c.ppoEpochs * seqTokens) / updateSeconds,
          };
          return { loss: avg((s) => s.loss), gradNorm, tokens: c.ppoEpochs * seqTokens, log };
        },
        async evaluate(signal) {
          if (!val.length) return null;
          assign();
          // The same seeds at every evaluation, so the curve compares policies on the same draws.
          const seedOf = (prompt: number, sample: number) => mixSeed(c.seed, 0xe7a1, prompt, sample);
          const { rollouts } = await collectRollouts(model, chunks(val, c.microBatchSize), { temperature: c.temperature, maxNewTokens: c.maxNewTokens, samples: 1, seedOf }, { ...nets(), head: null }, signal);
          const all = rollouts.flat();
          const score = mean(all.map((r) => r.score));
          const klSum = mean(all.map((r) => sum(r.logprobs) - sum(r.refLogprobs)));
          // The skeleton's eval loss is what falls as training works: the negative mean reward.
          return { loss: -score, tokens: 0, log: { 'objective/scores': score, 'objective/kl': klSum } };
        },
        sync: async () => {},
        async close() {
          scorer.dispose();
          policy.dispose();
          reference?.dispose();
          if (head) tf.dispose([head.w, head.b]);
        },
      };
    },
  };
}

/** The step's statistics of one epoch, from the numbers its passes saw (TRL's policy/…, loss/…, val/… keys). */
function epochLoss(rollouts: readonly Rollout[], adv: ReturnType<typeof rolloutAdvantages>, seen: { logprobs: Float32Array[]; values: Float32Array[]; entropy: Float32Array[] }, withValues: boolean) {
  const cat = (xs: readonly ArrayLike<number>[]) => Float64Array.from(xs.flatMap((x) => Array.from(x)));
  const zeros = new Float64Array(rollouts.reduce((n, r) => n + r.response.length, 0));
  const l = ppoLoss(
    {
      newLogprobs: cat(seen.logprobs),
      oldLogprobs: cat(rollouts.map((r) => r.logprobs)),
      advantages: cat(adv.advantages),
      values: withValues ? cat(seen.values) : zeros,
      oldValues: withValues ? cat(rollouts.map((r) => r.values!)) : zeros,
      returns: withValues ? cat(adv.returns!) : zeros,
    },
    CLIP,
  );
  const entropy = cat(seen.entropy);
  return { ...l, entropy: entropy.length ? sum(entropy) / entropy.length : 0 };
}

const sum = (xs: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s;
};
const mean = (xs: ArrayLike<number>): number => (xs.length ? sum(xs) / xs.length : 0);
const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));

/**
 * The instructions to answer: an Alpaca JSON/JSONL file (its outputs, if any, are not used) or a run's
 * accepted/kept samples.
 */
async function readPpoPrompts(c: Pick<TrainConfig, 'data' | 'run'>): Promise<{ items: Sample[]; label: string }> {
  if (c.data && c.run) throw new UsageError('pass either --data or --run, not both');
  if (!c.data && !c.run) throw new UsageError('no instructions to answer', 'pass --data FILE (Alpaca JSON/JSONL) or --run output/NAME');
  const label = (c.data ?? c.run)!;
  const items = c.data ? readAlpacaFile(c.data) : (await import('../../store/run-samples.js')).loadRunSamples(c.run!);
  if (items.length === 0) throw new DataError(`${label}: no instructions to answer`, c.data ? 'the file is empty' : 'accept or keep samples in the run first (alpaca-forge curate / review)');
  const blank = items.findIndex((s) => s.instruction.trim() === '');
  if (blank >= 0) throw new DataError(`${label}: record ${blank + 1} has an empty "instruction"`, 'remove or fill that record');
  return { items, label };
}

/** `train --method ppo`: RLHF against a reward model through the trainer skeleton. */
export async function runPpoTraining(config: TrainConfig, opts: TrainRunOptions = {}): Promise<TrainResult> {
  checkPpoConfig(config);
  return runTrainer(config, ppoMethod(config), opts);
}
