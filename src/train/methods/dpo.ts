import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeOutput } from '../../io/write-output.js';
import { parseJsonAs } from '../../data/parse-json-as.js';
import { DataError, ModelError, UsageError } from '../../errors.js';
import type { TrainConfig } from '../../config/train.js';
import type { LlamaModel } from '../../model/load.js';
import { LoraRuntime, isCpuBackendName } from '../adapters/lora.js';
import { DeviceAdamW } from '../engines/device-update.js';
import { dpoDeviceStep } from './dpo-device.js';
import { StepAborted } from '../engines/grad-engine.js';
import { explainBackendError, microBatchGradients } from '../engines/gradients.js';
import { responseNllSum } from '../../model/loss.js';
import { padToBuckets } from '../batching.js';
import { hostUpdate } from '../host-update.js';
import type { MethodSession, TrainingMethod } from '../method.js';
import type { DpoLoss } from '../recipes/recipe.js';
import { oversizedRecordsWarning } from '../record-size.js';
import { mixSeed } from '../rng.js';
import { runTrainer, type TrainResult, type TrainRunOptions } from '../run-trainer.js';
import { encodePreferencePairs, fingerprintPairs, readPreferencePairs, type EncodedPair, type EncodedSequence, type PreferencePair } from './dpo-data.js';
import { dpoPairLoss, summarisePairs, type DpoMetrics, type PairLogps, type PairLoss } from './dpo-loss.js';

export interface DpoSettings {
  beta: number;
  loss: DpoLoss;
}

/** Cached reference log-probs: computed once per run (the reference never changes), reused on resume. */
export const REFERENCE_FILE = 'reference_logps.json';

// Sequences whose log-probs are read back at once: one read per group, not per sequence (on a GPU every read waits
// for the device).
const READ_GROUP = 32;

/**
 * Summed response log-probs of each sequence under the adapter in `lora`, without dropout or gradients. Each
 * sequence goes alone through the same loss the training pass uses (padded to its length bucket on GPU backends,
 * as the device step pads it), so at step 1 (policy = reference) the two agree to the last bit and the DPO loss is
 * exactly ln 2.
 */
export async function sequenceLogps(model: LlamaModel, lora: LoraRuntime, seqs: readonly EncodedSequence[], signal?: AbortSignal): Promise<number[]> {
  const out: number[] = [];
  const onDevice = !isCpuBackendName(tf.getBackend());
  const maxSeqLen = seqs.reduce((m, s) => Math.max(m, s.inputIds.length), 1);
  for (let i = 0; i < seqs.length; i += READ_GROUP) {
    if (signal?.aborted) throw signal.reason;
    const group = seqs.slice(i, i + READ_GROUP).map((s) => ({ inputIds: [s.inputIds], labels: [s.labels] }));
    const nll = tf.tidy(() => tf.stack(group.map((b) => responseNllSum(model, onDevice ? padToBuckets(b, model.tokenizer.padId, maxSeqLen) : b, lora.hook()))));
    try {
      out.push(...Array.from((await nll.data()) as Float32Array, (v) => -v));
    } finally {
      nll.dispose();
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}

export interface DpoStepResult {
  /** dLoss/dθ of the mean loss over the step's pairs, in variable order */
  grads: Float32Array[];
  pairs: PairLoss[];
  tokens: number;
}

/**
 * Gradient of the mean DPO loss over `pairs`. The loss depends on each sequence only through its summed log-prob,
 * so ∇L = Σ (∂L/∂log πc · ∇log πc + ∂L/∂log πr · ∇log πr): one forward+backward per sequence gives both its log-prob
 * (with this step's dropout) and its gradient, and the pair's two weights follow from the four log-probs. Only one
 * pair's gradients are held at a time.
 */
export async function dpoStepGradients(
  model: LlamaModel,
  lora: LoraRuntime,
  pairs: readonly EncodedPair[],
  reference: readonly { chosen: number; rejected: number }[],
  opts: DpoSettings & { dropoutSeed: (pair: number, side: 0 | 1) => number },
): Promise<DpoStepResult> {
  const sums = lora.variables.map((v) => new Float64Array(v.size));
  const losses: PairLoss[] = [];
  let tokens = 0;
  for (const [k, pair] of pairs.entries()) {
    const pass = (seq: EncodedSequence, side: 0 | 1) => microBatchGradients(model, lora, { inputIds: [seq.inputIds], labels: [seq.labels], dropoutSeed: opts.dropoutSeed(k, side) });
    const c = await pass(pair.chosen, 0);
    const r = await pass(pair.rejected, 1);
    tokens += pair.chosen.inputIds.length + pair.rejected.inputIds.length;
    const logps: PairLogps = { policyChosen: -c.nllSum, policyRejected: -r.nllSum, refChosen: reference[k]!.chosen, refRejected: reference[k]!.rejected };
    const l = dpoPairLoss(logps, opts.beta, opts.loss);
    losses.push(l);
    // The gradients are of Σ NLL = −log π, hence the minus signs.
    const wc = -l.dChosen / pairs.length;
    const wr = -l.dRejected / pairs.length;
    sums.forEach((s, v) => {
      const gc = c.grads[v] as Float32Array;
      const gr = r.grads[v] as Float32Array;
      for (let i = 0; i < s.length; i++) s[i] = (s[i] as number) + wc * (gc[i] as number) + wr * (gr[i] as number);
    });
  }
  return { grads: sums.map((s) => Float32Array.from(s)), pairs: losses, tokens };
}

/**
 * LoRA DPO: the policy is the base model plus a trainable adapter; the reference is the same model with the
 * initial adapter (--init-adapter, frozen) or none. Because a fresh adapter's B is zero, "no adapter" and "the
 * initial adapter" are the same weights, so the reference is always the policy at step 0 without dropout — no
 * second copy of the model, and its log-probs are computed once and cached in OUT/reference_logps.json.
 * Everything else (optimizer, schedule, clipping, checkpoints, resume, logs, the PEFT adapter) is the skeleton's.
 */
export function dpoMethod(dpo: DpoSettings): TrainingMethod<PreferencePair, EncodedPair> {
  return {
    name: 'dpo',
    unit: 'pairs',
    settings: { method: 'dpo', beta: dpo.beta, dpoLoss: dpo.loss },
    metadata: { method: 'dpo', beta: String(dpo.beta), dpo_loss: dpo.loss },
    workers: false,
    evalAtStart: true,
    read: readPairSource,
    encode(tok, items, config, label) {
      const r = encodePreferencePairs(tok, items, config.cutoffLen);
      if (r.encoded.length === 0 && items.length > 0) throw new UsageError(`--cutoff-len ${config.cutoffLen} leaves no response tokens in any training pair of ${label}`, 'raise --cutoff-len');
      return { examples: r.encoded, dropped: r.dropped };
    },
    fingerprint: (train, val) => fingerprintPairs([...train, ...val]),
    length: (p) => Math.max(p.chosen.inputIds.length, p.rejected.inputIds.length),
    tokens: (p) => ({ input: p.chosen.inputIds.length + p.rejected.inputIds.length, response: p.chosen.lossTokens + p.rejected.lossTokens }),
    // One pair at a time through the model: the whole batch is one "micro-batch" of the epoch plan.
    microBatchSize: (config) => config.batchSize,
    microBatchesPerStep: (config, n) => 2 * Math.min(config.batchSize, n),
    async start(ctx): Promise<MethodSession> {
      const { config, train, val, params, opt } = ctx;
      const model = ctx.model as LlamaModel;
      // The reference, once: the initial adapter without dropout.
      const lora = new LoraRuntime(ctx.initialWeights());
      const reference = await referenceLogps(ctx.outDir, ctx.fingerprint, async () => {
        ctx.emit({ type: 'phase', phase: 'evaluating', detail: `reference log-probs of ${train.length + val.length} pairs` });
        const seqs = [...train, ...val].flatMap((p) => [p.chosen, p.rejected]);
        const lp = await sequenceLogps(model, lora, seqs, ctx.signal);
        return Array.from({ length: seqs.length / 2 }, (_, i) => ({ chosen: lp[2 * i]!, rejected: lp[2 * i + 1]! }));
      });
      const refTrain = reference.slice(0, train.length);
      const refVal = reference.slice(train.length);
      // GPU backends: the step stays on the device (the variables hold the parameters between steps; sync() reads
      // them into `params`). CPU backends: gradients are read back and AdamW runs on the host arrays.
      let adamw: DeviceAdamW | null = null;
      if (!isCpuBackendName(ctx.backend.name)) {
        lora.assign(params);
        adamw = new DeviceAdamW(lora.variables, params, opt);
      }
      const maxSeqLen = [...train, ...val].reduce((m, p) => Math.max(m, p.chosen.inputIds.length, p.rejected.inputIds.length), 1);
      const checkLoss = (pairs: PairLoss[], step: number) => {
        const loss = summarisePairs(pairs).loss;
        if (!Number.isFinite(loss)) throw new ModelError(`DPO loss became ${loss} at step ${step}`, 'lower --learning-rate or --beta, and resume from the last checkpoint with --resume');
      };
      return {
        maxPassTokens: null,
        async step(groups, at, signal) {
          const order = groups.flat();
          const dropoutSeed = (k: number, side: 0 | 1) => mixSeed(config.seed, 0xd90, at.step - 1, k, side);
          if (adamw) {
            const r = await dpoDeviceStep(model, lora, adamw, order.map((i) => train[i]!), order.map((i) => refTrain[i]!), { ...dpo, dropoutSeed, maxGradNorm: config.maxGradNorm, lr: at.lr, maxSeqLen, checkLoss: (p) => checkLoss(p, at.step), ...(signal ? { signal } : {}) });
            const m = summarisePairs(r.pairs);
            return { loss: m.loss, gradNorm: r.gradNorm, tokens: r.tokens, log: dpoLogFields(m), dpo: m };
          }
          lora.assign(params);
          let r: DpoStepResult;
          try {
            r = await dpoStepGradients(
              model,
              lora,
              order.map((i) => train[i]!),
              order.map((i) => refTrain[i]!),
              { ...dpo, dropoutSeed },
            );
          } catch (e) {
            throw explainBackendError(e);
          }
          checkLoss(r.pairs, at.step);
          const m = summarisePairs(r.pairs);
          const gradNorm = hostUpdate(params, r.grads, opt, config.maxGradNorm, at.lr);
          return { loss: m.loss, gradNorm, tokens: r.tokens, log: dpoLogFields(m), dpo: m };
        },
        async evaluate(signal) {
          if (!val.length) return null;
          if (!adamw) lora.assign(params);
          let lp: number[];
          try {
            lp = await sequenceLogps(model, lora, val.flatMap((p) => [p.chosen, p.rejected]), signal);
          } catch (e) {
            if (signal?.aborted) throw new StepAborted();
            throw e;
          }
          const m = summarisePairs(val.map((_, i) => dpoPairLoss({ policyChosen: lp[2 * i]!, policyRejected: lp[2 * i + 1]!, refChosen: refVal[i]!.chosen, refRejected: refVal[i]!.rejected }, dpo.beta, dpo.loss)));
          return { loss: m.loss, tokens: 0, log: dpoLogFields(m), dpo: m };
        },
        sync: async () => adamw?.sync(),
        async close() {
          adamw?.dispose();
          lora.dispose();
        },
      };
    },
  };
}

/** DPO with LoRA through the trainer skeleton; what `train --method dpo` runs. */
export function runDpoTraining(config: TrainConfig, dpo: DpoSettings, opts: TrainRunOptions = {}): Promise<TrainResult> {
  if (!(dpo.beta > 0)) throw new UsageError('--beta must be positive', 'the DPO paper uses 0.1');
  return runTrainer(config, dpoMethod(dpo), opts);
}

/** Pairs from --data (a dpo or dpo-alpaca export) or --run (its rankings), exactly one of them. */
export async function readPairSource(config: Pick<TrainConfig, 'data' | 'run' | 'cutoffLen'>): Promise<{ items: PreferencePair[]; label: string; warnings: string[] }> {
  if (config.data && config.run) throw new UsageError('pass either --data or --run, not both');
  if (!config.data && !config.run) throw new UsageError('no preference pairs', 'pass --run output/NAME (after respond and a ranking) or --data pairs.jsonl (export --format dpo)');
  const label = (config.data ?? config.run)!;
  const items = config.data ? readPreferencePairs(config.data) : await runPairs(config.run!);
  const big = oversizedRecordsWarning(items.map((p) => p.prompt.length + Math.max(p.chosen.length, p.rejected.length)), label, config.cutoffLen);
  return { items, label, warnings: big ? [big] : [] };
}

/** A run's pairs (loaded lazily: training from a file needs no SQLite store); a run without any says what to do. */
async function runPairs(runDir: string): Promise<PreferencePair[]> {
  const { loadRunPreferencePairs } = await import('../../pairs/run-pairs.js');
  const { pairs } = loadRunPreferencePairs(runDir);
  if (pairs.length === 0) {
    throw new DataError(`${runDir}: no ranked responses to make preference pairs from`, `run alpaca-forge respond --run ${runDir} --responses 4, then curate --rank or review --rank`);
  }
  return pairs;
}

/** train_log.jsonl keys as TRL's DPOTrainer logs them (rewards/chosen, …); the skeleton puts eval_ in front for evaluations. */
function dpoLogFields(m: DpoMetrics): Record<string, number> {
  return {
    'rewards/chosen': m.rewardsChosen,
    'rewards/rejected': m.rewardsRejected,
    'rewards/margins': m.margin,
    'rewards/accuracies': m.accuracy,
  };
}

/** The reference log-probabilities cached beside the checkpoints, keyed by the data's fingerprint. */
const referenceCacheSchema = z.object({ fingerprint: z.string(), logps: z.array(z.object({ chosen: z.number(), rejected: z.number() })) });

async function referenceLogps(
  outDir: string,
  fingerprint: string,
  compute: () => Promise<Array<{ chosen: number; rejected: number }>>,
): Promise<Array<{ chosen: number; rejected: number }>> {
  const path = join(outDir, REFERENCE_FILE);
  if (existsSync(path)) {
    try {
      const cached = parseJsonAs(readFileSync(path, 'utf8'), referenceCacheSchema);
      if (cached.fingerprint === fingerprint) return cached.logps;
    } catch {
      // A file cut short by a kill is simply computed again.
    }
  }
  const logps = await compute();
  writeOutput(path, JSON.stringify({ fingerprint, logps }));
  return logps;
}
