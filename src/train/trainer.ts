import { existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, freemem } from 'node:os';
import { join, resolve } from 'node:path';
import { ModelError, UsageError } from '../errors.js';
import { selectBackend, type BackendName } from '../model/backend.js';
import { loadModelConfig, type ModelConfig } from '../model/config.js';
import { loadModel, type LlamaModel } from '../model/load.js';
import type { LabelledBatch } from '../model/loss.js';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.js';
import { AdamW } from './adamw.js';
import { planEpoch, splitTrainVal, stepsPerEpoch, totalSteps as countSteps } from './batching.js';
import { checkpointDir, listCheckpoints, readOptimizerState, readTrainerState, saveCheckpoint, type TrainerState, trainerStateAt } from './checkpoint.js';
import type { TrainConfig } from '../config/train.js';
import { encodeTrainingSamples, fingerprintExamples, loadTrainingSamples, resolveValSetSize, type EncodedExample } from './data.js';
import type { TrainEvent, TrainEventHandler, TrainPlanSummary } from '../events.js';
import { passTokensFor } from './device-plan.js';
import { DeviceStepper } from './device-stepper.js';
import { StepAborted } from './grad-engine.js';
import { HostStepper } from './host-stepper.js';
import type { MicroBatch } from './gradients.js';
import { LocalGradEngine } from './local-engine.js';
import { writeLossChart } from './loss-chart.js';
import { LoraRuntime, isCpuBackendName } from './lora.js';
import { flatParams, initLoraWeights, sortModules, trainableParamCount, type LoraSpec, type LoraWeights } from './lora-weights.js';
import { ADAPTER_WEIGHTS, readAdapter, writeAdapter, type AdapterShapes } from './peft-files.js';
import { countModelParams, planMemory, projectionFeatures } from './plan.js';
import { mixSeed } from './rng.js';
import { learningRateAt } from './schedule.js';
import { appendTrainLog, readTrainLog, truncateTrainLog } from './train-log.js';
import type { TrainStepper } from './train-stepper.js';
import { WorkerGradEngine } from './worker-engine.js';

export interface TrainRunOptions {
  /** continue from the newest checkpoint in OUT/checkpoints (starts fresh, with a warning, if there is none) */
  resume?: boolean;
  onEvent?: TrainEventHandler;
  /** aborting saves a checkpoint at the last completed step and returns with `interrupted: true` */
  signal?: AbortSignal;
}

export interface TrainResult {
  outDir: string;
  /** where the adapter is: OUT itself when finished, the checkpoint directory when interrupted */
  adapterDir: string;
  step: number;
  totalSteps: number;
  trainLoss: number | null;
  evalLoss: number | null;
  interrupted: boolean;
  seconds: number;
}

export const TRAIN_LOG = 'train_log.jsonl';
export const LOSS_CHART = 'loss_curve.svg';

/**
 * The model and output directory of a training run (SFT or DPO), checked before any data or model is read: an
 * --out that already holds a run is refused unless it is resumed.
 */
export function trainingTarget(config: Pick<TrainConfig, 'model' | 'out'>, resume: boolean): { modelDir: string; outDir: string; logPath: string; checkpoints: ReturnType<typeof listCheckpoints> } {
  if (!config.model) throw new UsageError('--model is required', 'pass --model DIR (a Hugging Face model directory)');
  if (!config.out) throw new UsageError('--out is required', 'pass --out DIR for the adapter and checkpoints');
  const outDir = config.out;
  const logPath = join(outDir, TRAIN_LOG);
  const checkpoints = listCheckpoints(outDir);
  if (!resume && (checkpoints.length || existsSync(join(outDir, ADAPTER_WEIGHTS)) || existsSync(logPath))) {
    throw new UsageError(`${outDir} already holds a training run`, 'pass --resume to continue it, or choose another --out');
  }
  return { modelDir: config.model, outDir, logPath, checkpoints };
}

/**
 * Trains a LoRA adapter: loads the base model and data, runs AdamW over length-grouped, gradient-accumulated
 * batches, evaluates, checkpoints and writes a PEFT adapter into `config.out`. Progress goes to `onEvent`.
 * This is the one entry point the CLI and the terminal UI call.
 */
export async function runTraining(config: TrainConfig, opts: TrainRunOptions = {}): Promise<TrainResult> {
  const started = Date.now();
  const emit = (e: TrainEvent) => opts.onEvent?.(e);
  const signal = opts.signal;
  const { modelDir, outDir, logPath, checkpoints } = trainingTarget(config, opts.resume === true);
  if (config.microBatchSize > config.batchSize) {
    throw new UsageError(`--micro-batch-size ${config.microBatchSize} is larger than --batch-size ${config.batchSize}`, 'the batch is accumulated from micro-batches: use a micro-batch size <= the batch size');
  }

  // Data first: a bad dataset should fail before minutes of model loading.
  emit({ type: 'phase', phase: 'encoding-data' });
  const { samples, label } = await loadTrainingSamples(config);
  const valSetSize = resolveValSetSize(config.valSetSize, samples.length, label);

  emit({ type: 'phase', phase: 'loading-model', detail: modelDir });
  const backend = await selectBackend(config.backend === 'auto' ? undefined : (config.backend as BackendName));
  const mcfg = loadModelConfig(modelDir);
  const workers = resolveWorkers(config, backend.name, mcfg);
  let model: LlamaModel | null = null;
  let tokenizer: Tokenizer;
  if (workers === 1) {
    model = await loadModel(modelDir, { training: true });
    tokenizer = model.tokenizer;
  } else {
    tokenizer = await loadTokenizer(modelDir, { bosTokenId: mcfg.bosTokenId, eosTokenIds: mcfg.eosTokenIds });
  }

  let stepper: TrainStepper | null = null;
  let lora: LoraRuntime | null = null;
  try {
    const split = splitTrainVal(samples.length, valSetSize.size, config.seed);
    const enc = (idx: number[]) => encodeTrainingSamples(tokenizer, idx.map((i) => samples[i]!), { cutoffLen: config.cutoffLen, trainOnInputs: config.trainOnInputs, label });
    const trainEnc = enc(split.train);
    const train = trainEnc.examples;
    const val = split.val.length ? enc(split.val).examples : [];
    const warnings: string[] = [];
    if (trainEnc.dropped) warnings.push(`${trainEnc.dropped} training samples have prompts of ${config.cutoffLen}+ tokens and no response left after truncation; they are skipped (raise --cutoff-len to keep them)`);

    const shapes = modelShapes(mcfg);
    const spe = stepsPerEpoch(train.length, config.batchSize);
    const total = countSteps(train.length, { epochs: config.epochs, batchSize: config.batchSize, maxSteps: config.maxSteps });
    if (config.warmupSteps >= total) warnings.push(`--warmup-steps ${config.warmupSteps} covers the whole run of ${total} steps: the learning rate never reaches ${config.learningRate} (lower --warmup-steps)`);
    const settings = resumeSettings({ ...config, valSetSize: valSetSize.size }, train.length);
    const fingerprint = fingerprintExamples(train);
    const baseModel = resolve(modelDir);

    // Adapter and optimizer: from a checkpoint, an existing adapter, or fresh.
    let weights: LoraWeights;
    let start = 0;
    let lastLosses: number[] = [];
    let lastEvalLoss: number | null = null;
    let optimizerState = null;
    let pendingEval = false;
    const latest = checkpoints.at(-1);
    if (opts.resume && latest !== undefined) {
      const dir = checkpointDir(outDir, latest);
      const state = readTrainerState(dir);
      const diffs = Object.keys(settings).filter((k) => JSON.stringify(settings[k]) !== JSON.stringify(state.settings[k]));
      if (diffs.length) {
        throw new UsageError(
          `cannot resume ${dir}: ${diffs.map((k) => `${k} was ${JSON.stringify(state.settings[k])}, now ${JSON.stringify(settings[k])}`).join('; ')}`,
          'resume with the same settings, or start a new run with another --out',
        );
      }
      if (state.dataFingerprint !== fingerprint) throw new UsageError(`cannot resume ${dir}: the training data changed since the checkpoint`, 'resume with the same data (and cutoff/seed), or start a new run with another --out');
      weights = readAdapter(dir, shapes).weights;
      optimizerState = readOptimizerState(dir, flatParams(weights).map((p) => p.length));
      start = state.step;
      lastLosses = state.lastLosses;
      lastEvalLoss = state.lastEvalLoss;
      pendingEval = state.pendingEval === true;
      truncateTrainLog(logPath, start);
    } else {
      if (opts.resume) warnings.push(`no checkpoint in ${join(outDir, 'checkpoints')}: starting from step 0`);
      const spec: LoraSpec = { r: config.loraR, alpha: config.loraAlpha, dropout: config.loraDropout, targetModules: sortModules(config.targetModules), useRslora: config.useRslora };
      if (config.initAdapter) {
        weights = readInitAdapter(config.initAdapter, shapes, spec, warnings);
      } else {
        weights = initLoraWeights(spec, { layers: mcfg.numLayers, features: (_l, m) => projectionFeatures(mcfg, m) }, config.seed);
      }
      truncateTrainLog(logPath, 0);
    }
    const params = flatParams(weights);
    const opt = new AdamW(
      params.map((p) => p.length),
      { weightDecay: config.weightDecay },
    );
    if (optimizerState) opt.setState(optimizerState);

    const longest = [...train, ...val].reduce((m, e) => Math.max(m, e.inputIds.length), 0);
    const passes = passTokensFor(mcfg, backend, { r: weights.spec.r, targetModules: weights.spec.targetModules, seqLen: longest });
    const maxPassTokens = passes.maxPassTokens;
    warnings.push(...passes.warnings);
    if (backend.name === 'wasm' && maxPassTokens < longest) {
      warnings.push(`${modelDir} with ${longest}-token examples probably does not fit wasm's 4 GB memory per worker (estimate: ${maxPassTokens} tokens per pass); if it aborts, lower --cutoff-len or use a smaller model or the tensorflow backend`);
    }
    for (const w of warnings) emit({ type: 'warning', message: w });
    if (workers > 1) {
      emit({ type: 'phase', phase: 'starting-workers', detail: `${workers} workers` });
      const started = await WorkerGradEngine.start(WorkerGradEngine.init(modelDir, backend.name as BackendName, weights, maxPassTokens), workers);
      stepper = new HostStepper(started.engine, params, opt, config.maxGradNorm);
    } else if (isCpuBackendName(backend.name)) {
      lora = new LoraRuntime(weights);
      stepper = new HostStepper(new LocalGradEngine(model as LlamaModel, lora, maxPassTokens), params, opt, config.maxGradNorm);
    } else {
      lora = new LoraRuntime(weights);
      stepper = new DeviceStepper(model as LlamaModel, lora, params, opt, { maxGradNorm: config.maxGradNorm, maxPassTokens });
    }
    mkdirSync(outDir, { recursive: true });

    const plan: TrainPlanSummary = {
      trainExamples: train.length,
      valExamples: val.length,
      valSetSizeDefaulted: valSetSize.auto,
      droppedExamples: trainEnc.dropped,
      // With --max-steps the run's length is the steps, not the epochs: report the epochs they amount to.
      epochs: config.maxSteps > 0 ? Math.round((100 * total) / spe) / 100 : config.epochs,
      stepsPerEpoch: spe,
      totalSteps: total,
      microBatchesPerStep: Math.ceil(Math.min(config.batchSize, train.length) / config.microBatchSize),
      trainTokensPerEpoch: train.reduce((n, e) => n + e.inputIds.length, 0),
      responseTokensPerEpoch: train.reduce((n, e) => n + e.lossTokens, 0),
      totalParams: countModelParams(mcfg),
      trainableParams: trainableParamCount(weights),
      resumedFromStep: start,
      workers,
      maxPassTokens: Number.isFinite(maxPassTokens) ? maxPassTokens : null,
    };
    emit({ type: 'start', backend: backend.name, device: backend.device, plan, outDir });

    const lengths = train.map((e) => e.inputIds.length);
    let epochCache: { epoch: number; steps: number[][][] } | null = null;
    const stepBatches = (step: number): number[][] => {
      const epoch = Math.floor(step / spe);
      if (epochCache?.epoch !== epoch) epochCache = { epoch, steps: planEpoch(lengths, { epoch, seed: config.seed, batchSize: config.batchSize, microBatchSize: config.microBatchSize }) };
      return epochCache.steps[step % spe] as number[][];
    };
    const evaluate = async (): Promise<number | null> => {
      if (!val.length || !stepper) return null;
      emit({ type: 'phase', phase: 'evaluating', detail: `${val.length} samples` });
      const batches = evalBatches(val, config.microBatchSize);
      const sums = await stepper.evaluate(batches, signal);
      const tokens = val.reduce((n, e) => n + e.lossTokens, 0);
      return sums.reduce((a, b) => a + b, 0) / tokens;
    };
    const state = (step: number): TrainerState =>
      trainerStateAt(step, { totalSteps: total, stepsPerEpoch: spe, seed: config.seed, dataFingerprint: fingerprint, settings, baseModel }, { lastLosses, lastEvalLoss, pendingEval });
    let lastCheckpoint = opts.resume && latest !== undefined ? latest : -1;
    const checkpoint = async (step: number) => {
      emit({ type: 'phase', phase: 'saving', detail: `checkpoint at step ${step}` });
      await stepper?.sync();
      const dir = saveCheckpoint(outDir, weights, opt.getState(), state(step), config.keepCheckpoints);
      lastCheckpoint = step;
      writeLossChart(join(outDir, LOSS_CHART), readTrainLog(logPath), chartTitle(modelDir, label));
      emit({ type: 'checkpoint', step, dir });
      return dir;
    };

    let step = start;
    let interrupted = false;
    let sessionSeconds = 0;
    let sessionSteps = 0;
    const scheduledEval = async (at: number) => {
      // A Ctrl-C during a scheduled evaluation leaves it pending in the checkpoint; the resumed run does it first,
      // so the log of a resumed run matches an uninterrupted one.
      pendingEval = true;
      try {
        lastEvalLoss = await reportEval(await evaluate(), at, at / spe);
        pendingEval = false;
      } catch (e) {
        if (!(e instanceof StepAborted)) throw e;
      }
    };
    if (pendingEval && step < total) await scheduledEval(step);
    while (step < total) {
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      const groups = stepBatches(step);
      const micro: MicroBatch[] = groups.map((idx, k) => ({
        inputIds: idx.map((i) => train[i]!.inputIds),
        labels: idx.map((i) => train[i]!.labels),
        dropoutSeed: mixSeed(config.seed, 0xd409, step, k),
      }));
      const lossTokens = groups.flat().reduce((n, i) => n + train[i]!.lossTokens, 0);
      const inputTokens = groups.flat().reduce((n, i) => n + train[i]!.inputIds.length, 0);
      const t0 = performance.now();
      const lr = learningRateAt(step, { lr: config.learningRate, schedule: config.lrSchedule, warmupSteps: config.warmupSteps, totalSteps: total });
      let outcome;
      try {
        // The step's loss is Σ NLL over every response token of the whole accumulated batch ÷ their count.
        outcome = await stepper.step(micro, { step: step + 1, lossTokens, lr }, signal);
      } catch (e) {
        if (e instanceof StepAborted) {
          interrupted = true;
          break;
        }
        throw e;
      }
      const { loss, gradNorm } = outcome;
      step += 1;
      const seconds = (performance.now() - t0) / 1000;
      sessionSeconds += seconds;
      sessionSteps += 1;
      lastLosses = [...lastLosses, loss].slice(-10);
      const tokensPerSec = inputTokens / seconds;
      const epoch = step / spe;
      emit({ type: 'step', step, total, epoch, loss, lr, gradNorm, tokensPerSec, etaSec: ((total - step) * sessionSeconds) / sessionSteps });
      appendTrainLog(logPath, { step, epoch, loss, lr, grad_norm: gradNorm, tokens_per_sec: tokensPerSec });

      if (config.evalEvery > 0 && step % config.evalEvery === 0 && step < total && val.length) await scheduledEval(step);
      if (config.saveEvery > 0 && step % config.saveEvery === 0 && step < total) await checkpoint(step);
    }

    async function reportEval(evalLoss: number | null, at: number, epoch: number): Promise<number | null> {
      if (evalLoss === null) return null;
      emit({ type: 'eval', step: at, evalLoss, tokens: val.reduce((n, e) => n + e.lossTokens, 0) });
      appendTrainLog(logPath, { step: at, epoch, eval_loss: evalLoss });
      return evalLoss;
    }

    let adapterDir: string;
    if (interrupted) {
      adapterDir = lastCheckpoint === step ? checkpointDir(outDir, step) : await checkpoint(step);
    } else {
      if (val.length && step > start) {
        try {
          lastEvalLoss = await reportEval(await evaluate(), step, step / spe);
        } catch (e) {
          if (!(e instanceof StepAborted)) throw e;
        }
      }
      emit({ type: 'phase', phase: 'saving', detail: outDir });
      await stepper.sync();
      writeAdapter(outDir, weights, { baseModel });
      if (lastCheckpoint !== step) await checkpoint(step);
      else writeLossChart(join(outDir, LOSS_CHART), readTrainLog(logPath), chartTitle(modelDir, label));
      adapterDir = outDir;
    }
    const trainLoss = lastLosses.length ? lastLosses.reduce((a, b) => a + b, 0) / lastLosses.length : null;
    const result: TrainResult = { outDir, adapterDir, step, totalSteps: total, trainLoss, evalLoss: lastEvalLoss, interrupted, seconds: (Date.now() - started) / 1000 };
    emit({ type: 'done', ...result });
    return result;
  } finally {
    await stepper?.close();
    lora?.dispose();
    model?.dispose();
  }
}

/** Per-module in/out features straight from config.json (no weights needed, so worker mode need not load them). */
export function modelShapes(c: ModelConfig): AdapterShapes {
  return { layers: c.numLayers, features: (layer, m) => (layer < c.numLayers ? projectionFeatures(c, m) : undefined) };
}

/** --init-adapter: its own r/alpha/modules win (they are what its weights mean); every layer must be covered. */
export function readInitAdapter(dir: string, shapes: AdapterShapes, requested: LoraSpec, warnings: string[]): LoraWeights {
  const { weights } = readAdapter(dir, shapes);
  const s = weights.spec;
  const expected = shapes.layers * s.targetModules.length;
  if (weights.entries.length !== expected) {
    throw new ModelError(`${dir}: the adapter covers ${weights.entries.length} of ${expected} layer/module pairs`, 'continue only from adapters that adapt every layer (PEFT layers_to_transform is not supported)');
  }
  const differs = (['r', 'alpha', 'useRslora'] as const).filter((k) => s[k] !== requested[k]);
  if (differs.length || s.targetModules.join() !== requested.targetModules.join()) {
    warnings.push(`--init-adapter ${dir}: using its r=${s.r}, alpha=${s.alpha}, modules ${s.targetModules.join(',')}${s.useRslora ? ', rslora' : ''} (the LoRA flags are ignored for a continued adapter)`);
  }
  return { spec: { ...s, dropout: requested.dropout }, entries: weights.entries };
}

/** Settings a resumed run must share with the run that wrote the checkpoint. */
export function resumeSettings(c: TrainConfig, trainExamples: number): Record<string, unknown> {
  return {
    loraR: c.loraR,
    loraAlpha: c.loraAlpha,
    loraDropout: c.loraDropout,
    targetModules: sortModules(c.targetModules),
    useRslora: c.useRslora,
    initAdapter: c.initAdapter ? resolve(c.initAdapter) : null,
    cutoffLen: c.cutoffLen,
    valSetSize: c.valSetSize,
    trainOnInputs: c.trainOnInputs,
    epochs: c.epochs,
    learningRate: c.learningRate,
    batchSize: c.batchSize,
    microBatchSize: c.microBatchSize,
    warmupSteps: c.warmupSteps,
    lrSchedule: c.lrSchedule,
    weightDecay: c.weightDecay,
    maxGradNorm: c.maxGradNorm,
    seed: c.seed,
    maxSteps: c.maxSteps,
    trainExamples,
  };
}

/** Validation micro-batches, longest first so padding stays small; order fixed so the loss is reproducible. */
function evalBatches(val: readonly EncodedExample[], size: number): LabelledBatch[] {
  const order = val.map((_, i) => i).sort((a, b) => val[b]!.inputIds.length - val[a]!.inputIds.length || a - b);
  const out: LabelledBatch[] = [];
  for (let i = 0; i < order.length; i += size) {
    const idx = order.slice(i, i + size);
    out.push({ inputIds: idx.map((k) => val[k]!.inputIds), labels: idx.map((k) => val[k]!.labels) });
  }
  return out;
}

/**
 * Worker threads only help where one TensorFlow.js instance uses one core (wasm, cpu); each holds a full copy of
 * the model, so `auto` also stays within ~70% of free memory.
 */
function resolveWorkers(config: TrainConfig, backend: string, mcfg: ModelConfig): number {
  const cpuBound = backend === 'wasm' || backend === 'cpu';
  if (config.workers !== 'auto') {
    if (config.workers > 1 && !cpuBound) return 1;
    return config.workers;
  }
  if (!cpuBound) return 1;
  const perWorker = planMemory(mcfg, { r: config.loraR, targetModules: config.targetModules, microBatchSize: config.microBatchSize, cutoffLen: config.cutoffLen }).lora.perWorker;
  const byMemory = Math.floor((0.7 * freemem()) / perWorker);
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}

export function chartTitle(modelDir: string, data: string): string {
  return `LoRA training loss — ${modelDir.split(/[\\/]/).filter(Boolean).at(-1) ?? modelDir} on ${data.split(/[\\/]/).filter(Boolean).at(-1) ?? data}`;
}
