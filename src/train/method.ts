import type { TrainConfig } from '../config/train.js';
import type { BackendInfo } from '../model/backend.js';
import type { ModelConfig } from '../model/config.js';
import type { LlamaModel } from '../model/load.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { AdamW } from './adamw.js';
import type { LoraWeights } from './adapters/lora-weights.js';
import type { NamedTensor, PeftTaskType } from './adapters/peft-files.js';
import type { PromptWeights } from './adapters/prompt-spec.js';
import type { DpoStepMetrics, TrainEvent } from '../events.js';

/** What `train --method` takes: supervised fine-tuning, DPO, a reward model, RLHF with PPO. */
export const TRAINING_METHODS = ['sft', 'dpo', 'rm', 'ppo'] as const;
export type TrainingMethodName = (typeof TRAINING_METHODS)[number];

/**
 * A training method, as TRL's trainers are on transformers' Trainer: the skeleton (run-trainer.ts) owns data
 * loading, the hold-out, resume/init, AdamW, the schedule, checkpoints, evaluation, logs, events and the PEFT
 * output; a method supplies only its examples (what one is, how it is read and encoded) and its step.
 */
export interface TrainingMethod<R, E> {
  readonly name: TrainingMethodName;
  /** what one example is called in messages: "samples", "pairs" */
  readonly unit: string;
  /** settings beyond the skeleton's own that a resumed run must share */
  readonly settings: Record<string, unknown>;
  /** written into the adapter's safetensors header */
  readonly metadata?: Record<string, string>;
  /** PEFT task_type of the output (CAUSAL_LM unless the method adds a head) */
  readonly taskType?: PeftTaskType;
  /** whether its passes may run on worker threads (only SFT's sum-of-NLL gradients add up across workers) */
  readonly workers: boolean;
  /** evaluate before the first step (DPO and RM: the hold-out's accuracy at the start is the baseline) */
  readonly evalAtStart: boolean;
  /** raw examples, read before the model loads so a bad dataset fails in seconds */
  read(config: TrainConfig): Promise<{ items: R[]; label: string; warnings?: string[] }>;
  encode(tok: Tokenizer, items: readonly R[], config: TrainConfig, label: string): { examples: E[]; dropped: number };
  /** identifies the encoded data: a checkpoint resumes only on the same */
  fingerprint(train: readonly E[], val: readonly E[]): string;
  /** the longest sequence of an example, for length-grouped batches */
  length(e: E): number;
  tokens(e: E): { input: number; response: number };
  /** examples per micro-batch in the epoch plan, and micro-batches per optimizer step (for the plan summary) */
  microBatchSize(config: TrainConfig): number;
  microBatchesPerStep(config: TrainConfig, trainExamples: number): number;
  /** trainable tensors beside the adapter, saved as PEFT modules_to_save (RM's score head) */
  extraParams?(mcfg: ModelConfig, config: TrainConfig): NamedTensor[];
  /**
   * false: the extra tensors are training state only (PPO's value head): checkpoints keep them, the output adapter
   * does not. Defaults to true.
   */
  readonly extrasInOutput?: boolean;
  /** the train_log.jsonl key loss_curve.svg draws instead of the loss (PPO: objective/scores), and its axis label */
  readonly chart?: { key: string; label: string };
  start(ctx: MethodContext<E>): Promise<MethodSession>;
}

export interface MethodContext<E> {
  config: TrainConfig;
  modelDir: string;
  outDir: string;
  backend: BackendInfo;
  mcfg: ModelConfig;
  /** null when the passes run on worker threads, each with its own copy */
  model: LlamaModel | null;
  workers: number;
  train: readonly E[];
  val: readonly E[];
  fingerprint: string;
  /** the trainable adapter, and the flat parameter list the optimizer updates: the adapter's, then extraParams' */
  weights: LoraWeights;
  extras: NamedTensor[];
  /** --adapter prompt-tuning|p-tuning|prefix-tuning: its parameters (then `weights` has no entries); null for LoRA */
  prompt: PromptWeights | null;
  params: Float32Array[];
  opt: AdamW;
  /** the adapter the run starts from (--init-adapter, or the fresh one), whether or not this session resumed */
  initialWeights(): LoraWeights;
  emit(e: TrainEvent): void;
  /** warnings to print with the others before the run starts */
  warnings: string[];
  signal: AbortSignal | undefined;
  /** what the session's checkpointState() returned at the checkpoint this run resumes from; null for a fresh run */
  resumedState: Record<string, unknown> | null;
}

export interface StepReport {
  /** the method's loss of this step (SFT: NLL per response token) */
  loss: number;
  /** global gradient norm before clipping */
  gradNorm: number;
  /** tokens through forward + backward, for tokens/s */
  tokens: number;
  /** extra train_log.jsonl keys, TRL's names (rewards/chosen, accuracy, …) */
  log?: Record<string, number>;
  dpo?: DpoStepMetrics;
}

export interface EvalReport {
  loss: number;
  /** response tokens evaluated (SFT), 0 where the loss is not per token */
  tokens: number;
  log?: Record<string, number>;
  dpo?: DpoStepMetrics;
}

export interface MethodSession {
  /** One optimizer step on the micro-batches `groups` (indices into train). Throws StepAborted when `signal` fires. */
  step(groups: number[][], at: { step: number; lr: number }, signal?: AbortSignal): Promise<StepReport>;
  /** The hold-out at the current parameters, no dropout; null when there is none. Throws StepAborted on abort. */
  evaluate(signal?: AbortSignal): Promise<EvalReport | null>;
  /** padded tokens per pass when a micro-batch is split to fit memory, else null */
  readonly maxPassTokens: number | null;
  /** Brings parameters and optimizer state into the host arrays the checkpoint writer reads. */
  sync(): Promise<void>;
  /**
   * State of the method beyond parameters and optimizer that a resumed run needs (PPO's KL coefficient), as JSON;
   * written into the checkpoint's trainer_state.json and handed back as MethodContext.resumedState.
   */
  checkpointState?(): Record<string, unknown>;
  close(): Promise<void>;
}
