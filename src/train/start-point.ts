import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import type { LlamaModel } from '../model/load.js';
import type { AdamWState } from './adamw.js';
import { flatParams, type LoraWeights } from './adapters/lora-weights.js';
import { readAdapter, type NamedTensor } from './adapters/peft-files.js';
import { readPromptEncoder } from './adapters/prompt-files.js';
import { promptDims, type PromptSpec, type PromptWeights } from './adapters/prompt-spec.js';
import { initialPromptWeights } from './adapters/prompt-training.js';
import { checkpointDir, readOptimizerState, readTrainerState } from './checkpoint.js';
import { checkResumable, type modelShapes } from './resume.js';
import { truncateTrainLog } from './train-log.js';

/** Where a run starts: its trainable weights, optimizer state and counters. */
export interface StartPoint {
  weights: LoraWeights;
  prompt: PromptWeights | null;
  extras: NamedTensor[];
  /** Steps already done. */
  start: number;
  lastLosses: number[];
  lastEvalLoss: number | null;
  /** A scheduled evaluation a Ctrl-C interrupted: the resumed run does it first. */
  pendingEval: boolean;
  optimizerState: AdamWState | null;
  /** The method's own state at the checkpoint (PPO's KL coefficient). */
  resumedState: Record<string, unknown> | null;
}

export interface StartPointOptions {
  resume: boolean;
  outDir: string;
  logPath: string;
  /** The newest checkpoint's step, if any. */
  latest: number | undefined;
  /** The settings and data a checkpoint must have been written with (else the resume is refused, naming them). */
  settings: Record<string, unknown>;
  fingerprint: string;
  unit: string;
  promptSpec: PromptSpec | null;
  shapes: ReturnType<typeof modelShapes>;
  mcfg: ModelConfig;
  /** The method's extra trainable modules, fresh (a checkpoint's copies replace them). */
  extras: NamedTensor[];
  /** A new run's LoRA weights: --init-adapter's, or fresh ones. */
  initialWeights: () => LoraWeights;
  /** Loaded in one-thread runs: prompt tuning's --prompt-init reads its token embeddings. */
  model: LlamaModel | null;
  seed: number;
  warnings: string[];
}

/**
 * The adapter, extra trainable modules and optimizer state: from the newest checkpoint with --resume (checked
 * against this run's settings and data), else fresh. The train log is cut back to the step the run starts from, so
 * a resumed run's log equals an uninterrupted one's.
 */
export async function startPoint(o: StartPointOptions): Promise<StartPoint> {
  if (o.resume && o.latest !== undefined) {
    const dir = checkpointDir(o.outDir, o.latest);
    const state = readTrainerState(dir);
    checkResumable(dir, state, o.settings, o.fingerprint, o.unit);
    let weights: LoraWeights;
    let prompt: PromptWeights | null = null;
    let extras = o.extras;
    if (o.promptSpec) {
      weights = o.initialWeights();
      prompt = readPromptEncoder(dir, o.promptSpec, promptDims(o.mcfg));
    } else {
      const saved = readAdapter(dir, o.shapes);
      weights = saved.weights;
      extras = extras.map((t) => saved.modulesToSave.find((s) => s.name === t.name) ?? t);
    }
    const sizes = [...flatParams(weights), ...(prompt?.params.map((p) => p.data) ?? []), ...extras.map((t) => t.data)].map((p) => p.length);
    truncateTrainLog(o.logPath, state.step);
    return {
      weights,
      prompt,
      extras,
      start: state.step,
      lastLosses: state.lastLosses,
      lastEvalLoss: state.lastEvalLoss,
      pendingEval: state.pendingEval === true,
      optimizerState: readOptimizerState(dir, sizes),
      resumedState: state.methodState ?? null,
    };
  }
  if (o.resume) o.warnings.push(`no checkpoint in ${join(o.outDir, 'checkpoints')}: starting from step 0`);
  const weights = o.initialWeights();
  const prompt = o.promptSpec ? await initialPromptWeights(o.promptSpec, o.model as LlamaModel, o.seed) : null;
  truncateTrainLog(o.logPath, 0);
  return { weights, prompt, extras: o.extras, start: 0, lastLosses: [], lastEvalLoss: null, pendingEval: false, optimizerState: null, resumedState: null };
}
