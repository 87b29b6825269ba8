import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeOutput } from '../io/write-output.js';
import { join, resolve } from 'node:path';
import { DataError, ModelError, UsageError } from '../errors.js';
import { selectBackend, type BackendName } from '../model/backend.js';
import { loadModel, type LlamaModel } from '../model/load.js';
import { AdamW } from './adamw.js';
import { planEpoch, splitTrainVal, stepsPerEpoch, totalSteps as countSteps } from './batching.js';
import { checkpointDir, readOptimizerState, readTrainerState, saveCheckpoint, trainerStateAt, type TrainerState } from './checkpoint.js';
import { clipGlobalNorm } from './clip.js';
import type { TrainConfig } from '../config/train.js';
import { encodePreferencePairs, fingerprintPairs, readPreferencePairs, type EncodedPair, type EncodedSequence, type PreferencePair } from './dpo-data.js';
import { dpoPairLoss, summarisePairs, type DpoMetrics, type PairLogps, type PairLoss } from './dpo-loss.js';
import { resolveValSetSize } from './data.js';
import type { TrainEvent } from '../events.js';
import { batchNll, explainBackendError, microBatchGradients } from './gradients.js';
import { writeLossChart } from './loss-chart.js';
import { LoraRuntime } from './lora.js';
import { flatParams, initLoraWeights, sortModules, trainableParamCount, type LoraSpec, type LoraWeights } from './lora-weights.js';
import { readAdapter, writeAdapter } from './peft-files.js';
import { countModelParams, projectionFeatures } from './plan.js';
import type { DpoLoss } from './recipe.js';
import { mixSeed } from './rng.js';
import { learningRateAt } from './schedule.js';
import { appendTrainLog, readTrainLog, truncateTrainLog } from './train-log.js';
import { LOSS_CHART, chartTitle, modelShapes, readInitAdapter, resumeSettings, trainingTarget, type TrainResult, type TrainRunOptions } from './trainer.js';

export interface DpoSettings {
  beta: number;
  loss: DpoLoss;
}

/** Cached reference log-probs: computed once per run (the reference never changes), reused on resume. */
export const REFERENCE_FILE = 'reference_logps.json';

/**
 * Summed response log-probs of each sequence under the adapter in `lora`, without dropout or gradients. Each
 * sequence goes alone through the same loss the training pass uses, so at step 1 (policy = reference) the two
 * agree to the last bit and the DPO loss is exactly ln 2.
 */
export async function sequenceLogps(model: LlamaModel, lora: LoraRuntime, seqs: readonly EncodedSequence[], signal?: AbortSignal): Promise<number[]> {
  const out: number[] = [];
  for (const s of seqs) {
    if (signal?.aborted) throw signal.reason;
    out.push(-(await batchNll(model, lora, { inputIds: [s.inputIds], labels: [s.labels] })));
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
 * Optimizer, schedule, clipping, checkpoints, resume, logs and the PEFT adapter are SFT's.
 */
export async function runDpoTraining(config: TrainConfig, dpo: DpoSettings, opts: TrainRunOptions = {}): Promise<TrainResult> {
  const started = Date.now();
  const emit = (e: TrainEvent) => opts.onEvent?.(e);
  const signal = opts.signal;
  const { modelDir, outDir, logPath, checkpoints } = trainingTarget(config, opts.resume === true);
  if (config.data && config.run) throw new UsageError('pass either --data or --run, not both');
  if (!config.data && !config.run) throw new UsageError('no preference pairs', 'pass --run output/NAME (after respond and a ranking) or --data pairs.jsonl (export --format dpo)');
  if (!(dpo.beta > 0)) throw new UsageError('--beta must be positive', 'the DPO paper uses 0.1');

  emit({ type: 'phase', phase: 'encoding-data' });
  const label = (config.data ?? config.run)!;
  const raw = config.data ? readPreferencePairs(config.data) : await runPairs(config.run!);
  const valSize = resolveValSetSize(config.valSetSize, raw.length, label).size;

  emit({ type: 'phase', phase: 'loading-model', detail: modelDir });
  const backend = await selectBackend(config.backend === 'auto' ? undefined : (config.backend as BackendName));
  const model = await loadModel(modelDir, { training: true });
  const mcfg = model.config;
  let lora: LoraRuntime | null = null;
  try {
    const split = splitTrainVal(raw.length, valSize, config.seed);
    const enc = (idx: number[]) => encodePreferencePairs(model.tokenizer, idx.map((i) => raw[i]!), config.cutoffLen);
    const trainEnc = enc(split.train);
    const train = trainEnc.encoded;
    const val = split.val.length ? enc(split.val).encoded : [];
    if (train.length === 0) {
      throw new UsageError(`--cutoff-len ${config.cutoffLen} leaves no response tokens in any training pair of ${label}`, 'raise --cutoff-len');
    }
    const warnings: string[] = [];
    if (trainEnc.dropped) warnings.push(`${trainEnc.dropped} pairs have prompts of ${config.cutoffLen}+ tokens and no response left after truncation; they are skipped (raise --cutoff-len to keep them)`);
    if (config.workers !== 'auto' && config.workers > 1) warnings.push('DPO runs in one thread (--workers is ignored)');

    const shapes = modelShapes(mcfg);
    const spec: LoraSpec = { r: config.loraR, alpha: config.loraAlpha, dropout: config.loraDropout, targetModules: sortModules(config.targetModules), useRslora: config.useRslora };
    const initial: LoraWeights = config.initAdapter
      ? readInitAdapter(config.initAdapter, shapes, spec, warnings)
      : initLoraWeights(spec, { layers: mcfg.numLayers, features: (_l, m) => projectionFeatures(mcfg, m) }, config.seed);
    const spe = stepsPerEpoch(train.length, config.batchSize);
    const total = countSteps(train.length, { epochs: config.epochs, batchSize: config.batchSize, maxSteps: config.maxSteps });
    const fingerprint = fingerprintPairs([...train, ...val]);
    const settings = { ...resumeSettings({ ...config, valSetSize: valSize }, train.length), method: 'dpo', beta: dpo.beta, dpoLoss: dpo.loss };
    const baseModel = resolve(modelDir);
    for (const w of warnings) emit({ type: 'warning', message: w });

    // The reference, once: the initial adapter without dropout.
    lora = new LoraRuntime(initial);
    const reference = await referenceLogps(outDir, fingerprint, async () => {
      emit({ type: 'phase', phase: 'evaluating', detail: `reference log-probs of ${train.length + val.length} pairs` });
      const seqs = [...train, ...val].flatMap((p) => [p.chosen, p.rejected]);
      const lp = await sequenceLogps(model, lora!, seqs, signal);
      return Array.from({ length: seqs.length / 2 }, (_, i) => ({ chosen: lp[2 * i]!, rejected: lp[2 * i + 1]! }));
    });
    const refTrain = reference.slice(0, train.length);
    const refVal = reference.slice(train.length);

    let weights = initial;
    let start = 0;
    let lastLosses: number[] = [];
    let lastEvalLoss: number | null = null;
    let optimizerState = null;
    const latest = checkpoints.at(-1);
    if (opts.resume && latest !== undefined) {
      const dir = checkpointDir(outDir, latest);
      const state = readTrainerState(dir);
      const diffs = Object.keys(settings).filter((k) => JSON.stringify((settings as Record<string, unknown>)[k]) !== JSON.stringify(state.settings[k]));
      if (diffs.length) throw new UsageError(`cannot resume ${dir}: ${diffs.map((k) => `${k} changed`).join('; ')}`, 'resume with the same settings, or start a new run with another --out');
      if (state.dataFingerprint !== fingerprint) throw new UsageError(`cannot resume ${dir}: the preference pairs changed since the checkpoint`, 'resume with the same data, or start a new run with another --out');
      weights = { spec: initial.spec, entries: readAdapter(dir, shapes).weights.entries };
      optimizerState = readOptimizerState(dir, flatParams(weights).map((p) => p.length));
      start = state.step;
      lastLosses = state.lastLosses;
      lastEvalLoss = state.lastEvalLoss;
      truncateTrainLog(logPath, start);
    } else {
      truncateTrainLog(logPath, 0);
    }
    const params = flatParams(weights);
    const opt = new AdamW(
      params.map((p) => p.length),
      { weightDecay: config.weightDecay },
    );
    if (optimizerState) opt.setState(optimizerState);
    mkdirSync(outDir, { recursive: true });

    emit({
      type: 'start',
      backend: backend.name,
      device: backend.device,
      outDir,
      plan: {
        trainExamples: train.length,
        valExamples: val.length,
        droppedExamples: trainEnc.dropped,
        epochs: config.epochs,
        stepsPerEpoch: spe,
        totalSteps: total,
        microBatchesPerStep: 2 * Math.min(config.batchSize, train.length),
        trainTokensPerEpoch: train.reduce((n, p) => n + p.chosen.inputIds.length + p.rejected.inputIds.length, 0),
        responseTokensPerEpoch: train.reduce((n, p) => n + p.chosen.lossTokens + p.rejected.lossTokens, 0),
        totalParams: countModelParams(mcfg),
        trainableParams: trainableParamCount(weights),
        resumedFromStep: start,
        workers: 1,
        maxPassTokens: null,
      },
    });

    const evaluate = async (at: number): Promise<DpoMetrics | null> => {
      if (!val.length) return null;
      emit({ type: 'phase', phase: 'evaluating', detail: `${val.length} held-out pairs` });
      lora!.assign(params);
      const lp = await sequenceLogps(model, lora!, val.flatMap((p) => [p.chosen, p.rejected]), signal);
      const m = summarisePairs(val.map((_, i) => dpoPairLoss({ policyChosen: lp[2 * i]!, policyRejected: lp[2 * i + 1]!, refChosen: refVal[i]!.chosen, refRejected: refVal[i]!.rejected }, dpo.beta, dpo.loss)));
      emit({ type: 'eval', step: at, evalLoss: m.loss, tokens: 0, dpo: m });
      appendTrainLog(logPath, { step: at, epoch: at / spe, eval_loss: m.loss, ...dpoLogFields(m, 'eval_') });
      return m;
    };
    const state = (step: number): TrainerState =>
      trainerStateAt(step, { totalSteps: total, stepsPerEpoch: spe, seed: config.seed, dataFingerprint: fingerprint, settings, baseModel }, { lastLosses, lastEvalLoss });
    let lastCheckpoint = opts.resume && latest !== undefined ? latest : -1;
    const checkpoint = (step: number) => {
      emit({ type: 'phase', phase: 'saving', detail: `checkpoint at step ${step}` });
      const dir = saveCheckpoint(outDir, weights, opt.getState(), state(step), config.keepCheckpoints);
      lastCheckpoint = step;
      writeLossChart(join(outDir, LOSS_CHART), readTrainLog(logPath), chartTitle(modelDir, label));
      emit({ type: 'checkpoint', step, dir });
      return dir;
    };

    if (start === 0) lastEvalLoss = (await evaluate(0))?.loss ?? null;
    const lengths = train.map((p) => Math.max(p.chosen.inputIds.length, p.rejected.inputIds.length));
    let step = start;
    let interrupted = false;
    let sessionSeconds = 0;
    let sessionSteps = 0;
    while (step < total) {
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      const epoch = Math.floor(step / spe);
      const order = planEpoch(lengths, { epoch, seed: config.seed, batchSize: config.batchSize, microBatchSize: config.batchSize })[step % spe]!.flat();
      const t0 = performance.now();
      lora.assign(params);
      let r: DpoStepResult;
      try {
        r = await dpoStepGradients(
          model,
          lora,
          order.map((i) => train[i]!),
          order.map((i) => refTrain[i]!),
          { ...dpo, dropoutSeed: (k, side) => mixSeed(config.seed, 0xd90, step, k, side) },
        );
      } catch (e) {
        throw explainBackendError(e);
      }
      const m = summarisePairs(r.pairs);
      if (!Number.isFinite(m.loss)) throw new ModelError(`DPO loss became ${m.loss} at step ${step + 1}`, 'lower --learning-rate or --beta, and resume from the last checkpoint with --resume');
      const gradNorm = clipGlobalNorm(r.grads, config.maxGradNorm);
      const lr = learningRateAt(step, { lr: config.learningRate, schedule: config.lrSchedule, warmupSteps: config.warmupSteps, totalSteps: total });
      opt.step(params, r.grads, lr);
      step += 1;
      const seconds = (performance.now() - t0) / 1000;
      sessionSeconds += seconds;
      sessionSteps += 1;
      lastLosses = [...lastLosses, m.loss].slice(-10);
      const tokensPerSec = r.tokens / seconds;
      emit({ type: 'step', step, total, epoch: step / spe, loss: m.loss, lr, gradNorm, tokensPerSec, etaSec: ((total - step) * sessionSeconds) / sessionSteps, dpo: m });
      appendTrainLog(logPath, { step, epoch: step / spe, loss: m.loss, lr, grad_norm: gradNorm, tokens_per_sec: tokensPerSec, ...dpoLogFields(m, '') });
      await new Promise((resolve) => setImmediate(resolve));
      if (config.evalEvery > 0 && step % config.evalEvery === 0 && step < total) lastEvalLoss = (await evaluate(step))?.loss ?? lastEvalLoss;
      if (config.saveEvery > 0 && step % config.saveEvery === 0 && step < total) checkpoint(step);
    }

    let adapterDir: string;
    if (interrupted) {
      adapterDir = lastCheckpoint === step ? checkpointDir(outDir, step) : checkpoint(step);
    } else {
      if (step > start) lastEvalLoss = (await evaluate(step))?.loss ?? lastEvalLoss;
      emit({ type: 'phase', phase: 'saving', detail: outDir });
      writeAdapter(outDir, weights, { baseModel, metadata: { method: 'dpo', beta: String(dpo.beta), dpo_loss: dpo.loss } });
      if (lastCheckpoint !== step) checkpoint(step);
      adapterDir = outDir;
    }
    const trainLoss = lastLosses.length ? lastLosses.reduce((a, b) => a + b, 0) / lastLosses.length : null;
    const result: TrainResult = { outDir, adapterDir, step, totalSteps: total, trainLoss, evalLoss: lastEvalLoss, interrupted, seconds: (Date.now() - started) / 1000 };
    emit({ type: 'done', ...result });
    return result;
  } finally {
    lora?.dispose();
    model.dispose();
  }
}

/** A run's pairs (loaded lazily: training from a file needs no SQLite store); a run without any says what to do. */
async function runPairs(runDir: string): Promise<PreferencePair[]> {
  const { loadRunPreferencePairs } = await import('../pairs/run-pairs.js');
  const { pairs } = loadRunPreferencePairs(runDir);
  if (pairs.length === 0) {
    throw new DataError(`${runDir}: no ranked responses to make preference pairs from`, `run alpaca-forge respond --run ${runDir} --responses 4, then curate --rank or review --rank`);
  }
  return pairs;
}

/** train_log.jsonl keys as TRL's DPOTrainer logs them (rewards/chosen, …), with eval_ in front for evaluations. */
function dpoLogFields(m: DpoMetrics, prefix: string): Record<string, number> {
  return {
    [`${prefix}rewards/chosen`]: m.rewardsChosen,
    [`${prefix}rewards/rejected`]: m.rewardsRejected,
    [`${prefix}rewards/margins`]: m.margin,
    [`${prefix}rewards/accuracies`]: m.accuracy,
  };
}

async function referenceLogps(
  outDir: string,
  fingerprint: string,
  compute: () => Promise<Array<{ chosen: number; rejected: number }>>,
): Promise<Array<{ chosen: number; rejected: number }>> {
  const path = join(outDir, REFERENCE_FILE);
  if (existsSync(path)) {
    try {
      const cached = JSON.parse(readFileSync(path, 'utf8')) as { fingerprint: string; logps: Array<{ chosen: number; rejected: number }> };
      if (cached.fingerprint === fingerprint) return cached.logps;
    } catch {
      // A file cut short by a kill is simply computed again.
    }
  }
  const logps = await compute();
  writeOutput(path, JSON.stringify({ fingerprint, logps }));
  return logps;
}
