import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelError } from '../errors.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../model/safetensors.js';
import type { AdamWState } from './adamw.js';
import { writeAdapter, type AdapterExtras } from './adapters/peft-files.js';
import type { LoraWeights } from './adapters/lora-weights.js';

export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'trainer_state.json';

/**
 * Everything besides the weights that a resumed run needs to continue exactly where this one stopped. All
 * randomness is counter-based (shuffle = f(seed, epoch), dropout = f(seed, step, micro-batch)), so the seed and
 * the step are the whole RNG state.
 */
export interface TrainerState {
  version: 1;
  /** optimizer steps completed */
  step: number;
  totalSteps: number;
  /** data position: epoch and step within it where the next step starts */
  epoch: number;
  stepInEpoch: number;
  rng: { seed: number; scheme: 'counter: shuffle(seed, epoch), dropout(seed, step, micro-batch, layer, module)' };
  dataFingerprint: string;
  /** the settings a resumed run must share (hyperparameters, data shape) */
  settings: Record<string, unknown>;
  baseModel: string;
  /** running figures, so the resumed run reports the same final numbers */
  lastLosses: number[];
  lastEvalLoss: number | null;
  /** a scheduled evaluation at `step` was interrupted; the resumed run does it first */
  pendingEval?: boolean;
  /** the method's own state at `step` (PPO: the adaptive KL coefficient) */
  methodState?: Record<string, unknown>;
}

/** The state of a run after `step` optimizer steps: the data position and RNG follow from step, seed and steps per epoch. */
export function trainerStateAt(
  step: number,
  run: { totalSteps: number; stepsPerEpoch: number; seed: number; dataFingerprint: string; settings: Record<string, unknown>; baseModel: string },
  running: { lastLosses: number[]; lastEvalLoss: number | null; pendingEval?: boolean; methodState?: Record<string, unknown> },
): TrainerState {
  return {
    version: 1,
    step,
    totalSteps: run.totalSteps,
    epoch: Math.floor(step / run.stepsPerEpoch),
    stepInEpoch: step % run.stepsPerEpoch,
    rng: { seed: run.seed, scheme: 'counter: shuffle(seed, epoch), dropout(seed, step, micro-batch, layer, module)' },
    dataFingerprint: run.dataFingerprint,
    settings: run.settings,
    baseModel: run.baseModel,
    ...running,
  };
}

export function checkpointDir(outDir: string, step: number): string {
  return join(outDir, 'checkpoints', `step-${step}`);
}

/**
 * Writes checkpoints/step-N/ (a PEFT adapter, the AdamW state, trainer_state.json) into a temporary directory
 * first and renames it into place, so a kill mid-write never leaves a checkpoint that looks complete.
 * Keeps the newest `keep` checkpoints.
 */
export function saveCheckpoint(outDir: string, weights: LoraWeights, opt: AdamWState, state: TrainerState, keep: number, extras: AdapterExtras = {}, writeWeights?: (dir: string) => void): string {
  const dir = checkpointDir(outDir, state.step);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // Another adapter type (prompt learning) writes its own files; LoRA by default.
  if (writeWeights) writeWeights(tmp);
  else writeAdapter(tmp, weights, { baseModel: state.baseModel, ...extras });
  const tensors: Record<string, TensorToWrite> = {};
  opt.m.forEach((m, i) => (tensors[`m.${i}`] = { dtype: 'F32', shape: [m.length], data: m }));
  opt.v.forEach((v, i) => (tensors[`v.${i}`] = { dtype: 'F32', shape: [v.length], data: v }));
  writeSafetensors(join(tmp, OPTIMIZER_FILE), tensors, { step: String(opt.step) });
  writeFileSync(join(tmp, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  pruneCheckpoints(outDir, keep);
  return dir;
}

/** Completed checkpoint steps, oldest first (temporary or half-written directories are ignored). */
export function listCheckpoints(outDir: string): number[] {
  const root = join(outDir, 'checkpoints');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(root, m[0], STATE_FILE)))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

function pruneCheckpoints(outDir: string, keep: number): void {
  if (keep <= 0) return;
  const steps = listCheckpoints(outDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(checkpointDir(outDir, s), { recursive: true, force: true });
}

export function readTrainerState(dir: string): TrainerState {
  const path = join(dir, STATE_FILE);
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as TrainerState;
    if (s.version !== 1 || typeof s.step !== 'number') throw new Error('unknown format');
    return s;
  } catch (e) {
    throw new ModelError(`${path}: cannot read the checkpoint state (${(e as Error).message})`, 'delete this checkpoint directory to resume from the previous one');
  }
}

export function readOptimizerState(dir: string, sizes: number[]): AdamWState {
  const path = join(dir, OPTIMIZER_FILE);
  const f = openSafetensors(path);
  try {
    const read = (name: string, n: number) => {
      if (!f.has(name)) throw new ModelError(`${path}: no "${name}"`, 'the checkpoint is incomplete; delete it to resume from the previous one');
      const d = f.read(name);
      if (d.length !== n) throw new ModelError(`${path}: "${name}" has ${d.length} values, expected ${n}`, 'the checkpoint belongs to another adapter shape');
      return d;
    };
    const step = Number(f.metadata['step']);
    return { step: Number.isFinite(step) ? step : 0, m: sizes.map((n, i) => read(`m.${i}`, n)), v: sizes.map((n, i) => read(`v.${i}`, n)) };
  } finally {
    f.close();
  }
}
