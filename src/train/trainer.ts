import type { TrainConfig } from '../config/train.js';
import { sftMethod } from './methods/sft.js';
import { runTrainer, type TrainResult, type TrainRunOptions } from './run-trainer.js';

export type { TrainResult, TrainRunOptions } from './run-trainer.js';
export { LOSS_CHART, TRAIN_LOG, chartTitle, modelShapes, readInitAdapter, resumeSettings, trainingTarget } from './resume.js';

/**
 * Trains a LoRA adapter by supervised fine-tuning: the skeleton (run-trainer.ts) with the SFT method. This is the
 * entry point the CLI and the terminal UI call for `train` without --method.
 */
export function runTraining(config: TrainConfig, opts: TrainRunOptions = {}): Promise<TrainResult> {
  return runTrainer(config, sftMethod, opts);
}
