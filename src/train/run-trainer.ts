import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { availableParallelism, freemem } from 'node:os';
import { UsageError } from '../errors.js';
import type { TrainConfig } from '../config/train.js';
import { selectBackend, type BackendName } from '../model/backend.js';
import { loadModelConfig, type ModelConfig } from '../model/config.js';
import { loadModel, type LlamaModel } from '../model/load.js';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.js';
import { AdamW } from './adamw.js';
import { flatParams, initLoraWeights, trainableParamCount, type LoraWeights } from './adapters/lora-weights.js';
import { isCpuBackendName } from './adapters/lora.js';
import { writeAdapter } from './adapters/peft-files.js';
import { planEpoch, splitTrainVal, stepsPerEpoch, totalSteps as countSteps } from './batching.js';
import { checkpointDir, saveCheckpoint, trainerStateAt, type TrainerState } from './checkpoint.js';
import { StepAborted } from './engines/grad-engine.js';
import { countModelParams, planMemory, projectionFeatures } from './engines/plan.js';
import type { EvalReport, MethodSession, TrainingMethod } from './method.js';
import type { TrainEvent, TrainEventHandler } from '../events.js';
import { resolveValSetSize } from './hold-out.js';
import { writeLossChart } from './loss-chart.js';
import { LOSS_CHART, chartTitle, loraSpecOf, modelShapes, readInitAdapter, resumeSettings, trainingTarget } from './resume.js';
import { learningRateAt } from './schedule.js';
import { promptDims, promptParamCount } from './adapters/prompt-spec.js';
import { promptSettings, promptSpecOf, promptWriter } from './adapters/prompt-training.js';
import { appendTrainLog, readTrainLog } from './train-log.js';
import { startPoint } from './start-point.js';

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

/**
 * The one training loop. Reads and splits the data, loads the model, starts from a checkpoint, an --init-adapter
 * or a fresh adapter, runs AdamW on the schedule over length-grouped batches, evaluates, checkpoints, logs
 * (train_log.jsonl, loss_curve.svg, events) and writes the PEFT adapter into `config.out`. What a step computes
 * is the method's.
 */
export async function runTrainer<R, E>(config: TrainConfig, method: TrainingMethod<R, E>, opts: TrainRunOptions = {}): Promise<TrainResult> {
  const started = Date.now();
  const emit = (e: TrainEvent) => opts.onEvent?.(e);
  const signal = opts.signal;
  const { modelDir, outDir, logPath, checkpoints } = trainingTarget(config, opts.resume === true);
  if (config.microBatchSize > config.batchSize) {
    throw new UsageError(`--micro-batch-size ${config.microBatchSize} is larger than --batch-size ${config.batchSize}`, 'the batch is accumulated from micro-batches: use a micro-batch size <= the batch size');
  }

  // Data first: a bad dataset should fail before minutes of model loading.
  emit({ type: 'phase', phase: 'encoding-data' });
  const { items, label, warnings: readWarnings = [] } = await method.read(config);
  const valSetSize = resolveValSetSize(config.valSetSize, items.length, label);

  emit({ type: 'phase', phase: 'loading-model', detail: modelDir });
  const backend = await selectBackend(config.backend === 'auto' ? undefined : (config.backend as BackendName));
  const mcfg = loadModelConfig(modelDir);
  const warnings: string[] = [...readWarnings];
  const promptSpec = promptSpecOf(config, method.name);
  // Prompt-learning adapters train in one thread (the worker protocol carries LoRA weights).
  const workers = method.workers && !promptSpec ? resolveWorkers(config, backend.name, mcfg) : 1;
  if (promptSpec && config.workers !== 'auto' && config.workers > 1) warnings.push(`--adapter ${config.adapter} runs in one thread (--workers is ignored)`);
  if (!method.workers && config.workers !== 'auto' && config.workers > 1) warnings.push(`${method.name.toUpperCase()} runs in one thread (--workers is ignored)`);
  let model: LlamaModel | null = null;
  let tokenizer: Tokenizer;
  if (workers === 1) {
    model = await loadModel(modelDir, { training: true, baseWeights: config.baseWeights });
    tokenizer = model.tokenizer;
  } else {
    tokenizer = await loadTokenizer(modelDir, { bosTokenId: mcfg.bosTokenId, eosTokenIds: mcfg.eosTokenIds });
  }

  let session: MethodSession | null = null;
  try {
    const split = splitTrainVal(items.length, valSetSize.size, config.seed);
    const enc = (idx: number[]) => method.encode(tokenizer, idx.map((i) => items[i]!), config, label);
    const trainEnc = enc(split.train);
    const train = trainEnc.examples;
    const val = split.val.length ? enc(split.val).examples : [];
    if (trainEnc.dropped) warnings.push(`${trainEnc.dropped} training ${method.unit} have prompts of ${config.cutoffLen}+ tokens and no response left after truncation; they are skipped (raise --cutoff-len to keep them)`);

    const shapes = modelShapes(mcfg);
    const spe = stepsPerEpoch(train.length, config.batchSize);
    const total = countSteps(train.length, { epochs: config.epochs, batchSize: config.batchSize, maxSteps: config.maxSteps });
    if (config.warmupSteps >= total) warnings.push(`--warmup-steps ${config.warmupSteps} covers the whole run of ${total} steps: the learning rate never reaches ${config.learningRate} (lower --warmup-steps)`);
    const settings = { ...resumeSettings({ ...config, valSetSize: valSetSize.size }, train.length), ...method.settings, ...(promptSpec ? promptSettings(config) : {}) };
    const fingerprint = method.fingerprint(train, val);
    const baseModel = resolve(modelDir);

    // Adapter, extra trainable modules and optimizer: from a checkpoint, an --init-adapter, or fresh.
    const spec = loraSpecOf(config);
    let initial: LoraWeights | null = null;
    const initialWeights = (): LoraWeights =>
      (initial ??= promptSpec
        ? { spec, entries: [] }
        : config.initAdapter
        ? readInitAdapter(config.initAdapter, shapes, spec, warnings)
        : initLoraWeights(spec, { layers: mcfg.numLayers, features: (_l, m) => projectionFeatures(mcfg, m) }, config.seed));
    const latest = checkpoints.at(-1);
    const from = await startPoint({
      resume: opts.resume === true,
      outDir,
      logPath,
      latest,
      settings,
      fingerprint,
      unit: method.unit,
      promptSpec,
      shapes,
      mcfg,
      extras: method.extraParams?.(mcfg, config) ?? [],
      initialWeights,
      model,
      seed: config.seed,
      warnings,
    });
    const { weights, prompt, extras, start, optimizerState, resumedState } = from;
    let { lastLosses, lastEvalLoss, pendingEval } = from;
    const params = [...flatParams(weights), ...(prompt?.params.map((p) => p.data) ?? []), ...extras.map((t) => t.data)];
    const opt = new AdamW(
      params.map((p) => p.length),
      { weightDecay: config.weightDecay },
    );
    if (optimizerState) opt.setState(optimizerState);
    const adapterExtras = { ...(method.taskType ? { taskType: method.taskType } : {}), modulesToSave: extras };
    const outputExtras = method.extrasInOutput === false ? { ...adapterExtras, modulesToSave: [] } : adapterExtras;

    session = await method.start({ config, modelDir, outDir, backend, mcfg, model, workers, train, val, fingerprint, weights, extras, prompt, params, opt, initialWeights, emit, warnings, signal, resumedState });
    for (const w of warnings) emit({ type: 'warning', message: w });
    mkdirSync(outDir, { recursive: true });

    const tokensOf = (es: readonly E[], k: 'input' | 'response') => es.reduce((n, e) => n + method.tokens(e)[k], 0);
    emit({
      type: 'start',
      backend: backend.name,
      device: backend.device,
      outDir,
      method: method.name,
      plan: {
        trainExamples: train.length,
        valExamples: val.length,
        valSetSizeDefaulted: valSetSize.auto,
        droppedExamples: trainEnc.dropped,
        // With --max-steps the run's length is the steps, not the epochs: report the epochs they amount to.
        epochs: config.maxSteps > 0 ? Math.round((100 * total) / spe) / 100 : config.epochs,
        stepsPerEpoch: spe,
        totalSteps: total,
        microBatchesPerStep: method.microBatchesPerStep(config, train.length),
        trainTokensPerEpoch: tokensOf(train, 'input'),
        responseTokensPerEpoch: tokensOf(train, 'response'),
        totalParams: countModelParams(mcfg),
        trainableParams: trainableParamCount(weights) + (promptSpec ? promptParamCount(promptSpec, promptDims(mcfg)) : 0) + extras.reduce((n, t) => n + t.data.length, 0),
        resumedFromStep: start,
        workers,
        maxPassTokens: session.maxPassTokens,
      },
    });

    const lengths = train.map((e) => method.length(e));
    const micro = method.microBatchSize(config);
    let epochCache: { epoch: number; steps: number[][][] } | null = null;
    const stepBatches = (step: number): number[][] => {
      const epoch = Math.floor(step / spe);
      if (epochCache?.epoch !== epoch) epochCache = { epoch, steps: planEpoch(lengths, { epoch, seed: config.seed, batchSize: config.batchSize, microBatchSize: micro }) };
      return epochCache.steps[step % spe] as number[][];
    };
    const state = (step: number): TrainerState =>
      trainerStateAt(step, { totalSteps: total, stepsPerEpoch: spe, seed: config.seed, dataFingerprint: fingerprint, settings, baseModel }, { lastLosses, lastEvalLoss, pendingEval, ...(session?.checkpointState ? { methodState: session.checkpointState() } : {}) });
    const chartTitleText = chartTitle(modelDir, label, method.chart ? `${method.name.toUpperCase()} ${method.chart.label}` : method.name === 'sft' ? undefined : `${method.name.toUpperCase()} loss`);
    const chart = () => writeLossChart(join(outDir, LOSS_CHART), readTrainLog(logPath), chartTitleText, method.chart);
    let lastCheckpoint = opts.resume && latest !== undefined ? latest : -1;
    const checkpoint = async (step: number) => {
      emit({ type: 'phase', phase: 'saving', detail: `checkpoint at step ${step}` });
      await session?.sync();
      const writePrompt = prompt ? await promptWriter(prompt, { baseModel }) : null;
      const dir = saveCheckpoint(outDir, weights, opt.getState(), state(step), config.keepCheckpoints, adapterExtras, writePrompt ? (d) => writePrompt(d, true) : undefined);
      lastCheckpoint = step;
      chart();
      emit({ type: 'checkpoint', step, dir });
      return dir;
    };
    const report = (r: EvalReport, at: number): number => {
      emit({ type: 'eval', step: at, evalLoss: r.loss, tokens: r.tokens, method: method.name, ...(r.dpo ? { dpo: r.dpo } : {}), ...(r.log ? { metrics: r.log } : {}) });
      appendTrainLog(logPath, { step: at, epoch: at / spe, eval_loss: r.loss, ...prefixed(r.log, 'eval_') });
      return r.loss;
    };
    // A Ctrl-C during a scheduled evaluation leaves it pending in the checkpoint; the resumed run does it first,
    // so the log of a resumed run matches an uninterrupted one.
    const scheduledEval = async (at: number) => {
      if (!val.length) return;
      emit({ type: 'phase', phase: 'evaluating', detail: `${val.length} held-out ${method.unit}` });
      pendingEval = true;
      try {
        const r = await session!.evaluate(signal);
        if (r) lastEvalLoss = report(r, at);
        pendingEval = false;
      } catch (e) {
        if (!(e instanceof StepAborted)) throw e;
      }
    };

    let step = start;
    let interrupted = false;
    let sessionSeconds = 0;
    let sessionSteps = 0;
    if (start === 0 && method.evalAtStart) await scheduledEval(0);
    else if (pendingEval && step < total) await scheduledEval(step);
    while (step < total) {
      if (signal?.aborted) {
        interrupted = true;
        break;
      }
      const t0 = performance.now();
      const lr = learningRateAt(step, { lr: config.learningRate, schedule: config.lrSchedule, warmupSteps: config.warmupSteps, totalSteps: total });
      let r;
      try {
        r = await session.step(stepBatches(step), { step: step + 1, lr }, signal);
      } catch (e) {
        if (e instanceof StepAborted) {
          interrupted = true;
          break;
        }
        throw e;
      }
      step += 1;
      const seconds = (performance.now() - t0) / 1000;
      sessionSeconds += seconds;
      sessionSteps += 1;
      lastLosses = [...lastLosses, r.loss].slice(-10);
      const tokensPerSec = r.tokens / seconds;
      const epoch = step / spe;
      emit({ type: 'step', step, total, epoch, loss: r.loss, lr, gradNorm: r.gradNorm, tokensPerSec, etaSec: ((total - step) * sessionSeconds) / sessionSteps, ...(r.dpo ? { dpo: r.dpo } : {}), ...(r.log ? { metrics: r.log } : {}) });
      appendTrainLog(logPath, { step, epoch, loss: r.loss, lr, grad_norm: r.gradNorm, tokens_per_sec: tokensPerSec, ...r.log });
      // Lets a Ctrl-C (or the UI) in between steps.
      await new Promise((done) => setImmediate(done));
      if (config.evalEvery > 0 && step % config.evalEvery === 0 && step < total) await scheduledEval(step);
      if (config.saveEvery > 0 && step % config.saveEvery === 0 && step < total) await checkpoint(step);
    }

    let adapterDir: string;
    if (interrupted) {
      adapterDir = lastCheckpoint === step ? checkpointDir(outDir, step) : await checkpoint(step);
    } else {
      if (step > start) await scheduledEval(step);
      emit({ type: 'phase', phase: 'saving', detail: outDir });
      await session.sync();
      if (prompt) (await promptWriter(prompt, { baseModel, ...(method.metadata ? { metadata: method.metadata } : {}) }))(outDir, false);
      else writeAdapter(outDir, weights, { baseModel, ...(method.metadata ? { metadata: method.metadata } : {}), ...outputExtras });
      if (lastCheckpoint !== step) await checkpoint(step);
      else chart();
      adapterDir = outDir;
    }
    const trainLoss = lastLosses.length ? lastLosses.reduce((a, b) => a + b, 0) / lastLosses.length : null;
    const result: TrainResult = { outDir, adapterDir, step, totalSteps: total, trainLoss, evalLoss: lastEvalLoss, interrupted, seconds: (Date.now() - started) / 1000 };
    emit({ type: 'done', ...result });
    return result;
  } finally {
    await session?.close();
    model?.dispose();
  }
}

function prefixed(log: Record<string, number> | undefined, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(log ?? {}).map(([k, v]) => [prefix + k, v]));
}

/**
 * Worker threads only help where one TensorFlow.js instance uses one core (wasm, cpu); each holds a full copy of
 * the model, so `auto` also stays within ~70% of free memory.
 */
function resolveWorkers(config: TrainConfig, backend: string, mcfg: ModelConfig): number {
  const cpuBound = isCpuBackendName(backend);
  if (config.workers !== 'auto') {
    if (config.workers > 1 && !cpuBound) return 1;
    return config.workers;
  }
  if (!cpuBound) return 1;
  const perWorker = planMemory(mcfg, { r: config.loraR, targetModules: config.targetModules, microBatchSize: config.microBatchSize, cutoffLen: config.cutoffLen }).lora.perWorker;
  const byMemory = Math.floor((0.7 * freemem()) / perWorker);
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}
