import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelError, UsageError } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import type { TrainConfig } from '../config/train.js';
import { sortModules, type LoraSpec, type LoraWeights } from './adapters/lora-weights.js';
import { ADAPTER_WEIGHTS, readAdapter, type AdapterShapes } from './adapters/peft-files.js';
import { projectionFeatures } from './engines/plan.js';
import { listCheckpoints, type TrainerState } from './checkpoint.js';

export const TRAIN_LOG = 'train_log.jsonl';
export const LOSS_CHART = 'loss_curve.svg';

/**
 * The model and output directory of a training run (any method), checked before any data or model is read: an
 * --out that already holds a run is refused unless it is resumed.
 */
export function trainingTarget(config: Pick<TrainConfig, 'model' | 'out'>, resume: boolean): { modelDir: string; outDir: string; logPath: string; checkpoints: number[] } {
  if (!config.model) throw new UsageError('--model is required', 'pass --model DIR (a Hugging Face model directory)');
  if (!config.out) throw new UsageError('--out is required', 'pass --out DIR for the adapter and checkpoints');
  const outDir = config.out;
  // Checked here, before the data and model load, rather than as a raw EEXIST from the first write.
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`--out ${outDir} is a file`, 'training writes an adapter, checkpoints and logs: pass a directory (new or existing) as --out');
  const logPath = join(outDir, TRAIN_LOG);
  const checkpoints = listCheckpoints(outDir);
  if (!resume && (checkpoints.length || existsSync(join(outDir, ADAPTER_WEIGHTS)) || existsSync(logPath))) {
    throw new UsageError(`${outDir} already holds a training run`, 'pass --resume to continue it, or choose another --out');
  }
  return { modelDir: config.model, outDir, logPath, checkpoints };
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

/** One refusal for every method: each changed setting with its old and new value, or changed data. */
export function checkResumable(dir: string, state: TrainerState, settings: Record<string, unknown>, fingerprint: string, unit: string): void {
  const diffs = Object.keys(settings).filter((k) => JSON.stringify(settings[k]) !== JSON.stringify(state.settings[k]));
  if (diffs.length) {
    throw new UsageError(
      `cannot resume ${dir}: ${diffs.map((k) => `${k} was ${JSON.stringify(state.settings[k])}, now ${JSON.stringify(settings[k])}`).join('; ')}`,
      'resume with the same settings, or start a new run with another --out',
    );
  }
  if (state.dataFingerprint !== fingerprint) throw new UsageError(`cannot resume ${dir}: the training ${unit} changed since the checkpoint`, 'resume with the same data (and cutoff/seed), or start a new run with another --out');
}

/** Per-module in/out features straight from config.json (no weights needed, so worker mode need not load them). */
export function modelShapes(c: ModelConfig): AdapterShapes {
  return { layers: c.numLayers, features: (layer, m) => (layer < c.numLayers ? projectionFeatures(c, m) : undefined) };
}

/** The LoRA spec the flags ask for. */
export function loraSpecOf(config: TrainConfig): LoraSpec {
  return { r: config.loraR, alpha: config.loraAlpha, dropout: config.loraDropout, targetModules: sortModules(config.targetModules), useRslora: config.useRslora };
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

export function chartTitle(modelDir: string, data: string, method = 'LoRA training loss'): string {
  return `${method} — ${modelDir.split(/[\\/]/).filter(Boolean).at(-1) ?? modelDir} on ${data.split(/[\\/]/).filter(Boolean).at(-1) ?? data}`;
}
