/**
 * What a training run reports while it runs. The trainer emits these through one callback; the CLI prints them
 * (live line, plain lines or JSON lines) and the terminal UI renders them. Nothing here imports tfjs or the UI.
 */
export interface TrainPlanSummary {
  trainExamples: number;
  valExamples: number;
  /** the hold-out is the default min(2000, 10% of the data), --val-set-size not being given */
  valSetSizeDefaulted?: boolean;
  /** examples dropped because the prompt filled the whole cutoff (nothing left to learn from) */
  droppedExamples: number;
  epochs: number;
  stepsPerEpoch: number;
  totalSteps: number;
  microBatchesPerStep: number;
  trainTokensPerEpoch: number;
  responseTokensPerEpoch: number;
  totalParams: number;
  trainableParams: number;
  /** 0 for a fresh run, else the checkpoint step it continues from */
  resumedFromStep: number;
  workers: number;
  /** padded tokens per forward/backward pass when a micro-batch is split to fit memory (wasm), else null */
  maxPassTokens: number | null;
}

export type TrainEvent =
  | { type: 'phase'; phase: 'loading-model' | 'encoding-data' | 'starting-workers' | 'evaluating' | 'saving'; detail?: string }
  | { type: 'warning'; message: string }
  | { type: 'start'; backend: string; device: string; plan: TrainPlanSummary; outDir: string }
  | {
      type: 'step';
      step: number;
      total: number;
      /** fractional epoch reached after this step, as Hugging Face logs it */
      epoch: number;
      /** mean NLL per response token over this step's whole accumulated batch */
      loss: number;
      lr: number;
      /** global gradient norm before clipping */
      gradNorm: number;
      /** non-padding tokens processed per second (forward + backward), this step */
      tokensPerSec: number;
      etaSec: number;
      /** DPO runs: rewards, margin and preference accuracy of this step's pairs (loss is then the DPO loss) */
      dpo?: DpoStepMetrics;
    }
  | { type: 'eval'; step: number; evalLoss: number; tokens: number; dpo?: DpoStepMetrics }
  | { type: 'checkpoint'; step: number; dir: string }
  | {
      type: 'done';
      step: number;
      totalSteps: number;
      /** mean loss of the last logged steps (up to 10) */
      trainLoss: number | null;
      evalLoss: number | null;
      outDir: string;
      adapterDir: string;
      interrupted: boolean;
      seconds: number;
    };

/** What a DPO step or evaluation reports, averaged over its pairs (TRL's rewards/chosen, rewards/rejected, …). */
export interface DpoStepMetrics {
  loss: number;
  rewardsChosen: number;
  rewardsRejected: number;
  /** mean of reward(chosen) − reward(rejected) */
  margin: number;
  /** share of pairs whose chosen reward is higher; a tie counts one half (at the start every pair ties) */
  accuracy: number;
}

export type TrainEventHandler = (event: TrainEvent) => void;
