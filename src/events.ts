import type { Lang, Sample } from './data/sample.js';
/**
 * Every engine's progress events, in one module: generation, respond and training. The engines emit them through one
 * callback and never print; the CLI turns them into a progress line, log lines or JSON lines, and the terminal UI
 * renders them. Nothing here imports tfjs, the store or the UI.
 */
export interface SamplePreview extends Sample {
  id: number;
}

export interface EndpointProgress {
  endpoint: string;
  model: string;
  /**
   * up: taking requests; down: paused and probed by one request; dead: stayed down through every pause; refused:
   * refused a request the way it will refuse every one (a wrong key, a model it does not serve), left out of the run.
   */
  state: 'up' | 'down' | 'dead' | 'refused';
  inFlight: number;
  ok: number;
  failed: number;
  requestsPerSec: number;
}

export type TransportState =
  | { state: 'ok' }
  | { state: 'backoff'; reason: string; waitMs: number; attempt: number }
  | { state: 'paused'; reason: string; waitMs: number; pause: number };

/** The kept share of requested items collapsed over the last answers (see generate/yield-monitor.ts). */
export interface LowYield {
  /** Answers measured (the window). */
  answers: number;
  /** Items those answers were asked for. */
  requested: number;
  kept: number;
  keptShare: number;
  /** The threshold it fell under. */
  minShare: number;
  /** The most frequent rejection reasons in the window, most frequent first. */
  topReasons: Array<{ reason: string; count: number }>;
}

/**
 * Why generation stopped. `batch-pending`: a round waits for results from outside (a file written with
 * --emit-batch); `cancelled`: --cancel-batches cancelled the run's batches; `low-yield`: the kept share of requested
 * items stayed under generation.minYield (the teacher's variety ran out, or the settings reject nearly everything);
 * `exhausted`: the method has no more work before the target (evol's rounds are done).
 */
export type GenerationStopReason = 'target' | 'budget' | 'interrupted' | 'endpoint-down' | 'batch-pending' | 'cancelled' | 'low-yield' | 'exhausted';

export type GenerateEvent =
  | {
      type: 'start';
      runDir: string;
      model: string;
      baseUrl: string;
      template: string;
      lang: Lang;
      target: number;
      kept: number;
      concurrency: number;
      resumed: boolean;
      abandonedRequests: number;
    }
  | {
      type: 'progress';
      kept: number;
      target: number;
      requestsDone: number;
      requestsFailed: number;
      inFlight: number;
      requestsPerSec: number;
      tokensPerSec: number;
      promptTokens: number;
      completionTokens: number;
      costUsd: number;
      budgetUsd: number | null;
      etaSec: number | null;
      elapsedSec: number;
      rejections: Record<string, number>;
      /** A pool of endpoints: each one's state, requests in flight, answers and failures. */
      endpoints?: EndpointProgress[];
    }
  | { type: 'samples'; latest: SamplePreview[] }
  | { type: 'transport'; transport: TransportState }
  /** `lowYield` is set on the (single) warning that the kept yield per request collapsed; `message` says it in words. */
  | { type: 'warning'; message: string; lowYield?: LowYield }
  /** Batch mode: a round changed state (written, uploaded, submitted, polled, ingested). */
  | { type: 'batch'; round: number; batchId: string | null; status: string; requests: number; message: string }
  | {
      type: 'done';
      reason: GenerationStopReason;
      kept: number;
      target: number;
      costUsd: number;
      message: string;
      /** With reason low-yield: the figures it stopped on. */
      lowYield?: LowYield;
    };

export type GenerateEventListener = (e: GenerateEvent) => void;

/** Why respond stopped, and what it filled. */
export interface RespondOutcome {
  reason: 'done' | 'budget' | 'interrupted' | 'endpoint-down';
  filled: number;
  slots: number;
  message: string;
}

export type RespondEvent =
  | {
      type: 'start';
      runDir: string;
      items: number;
      slots: number;
      filled: number;
      models: string[];
      /** The endpoints, comma-separated (as generate's start event has it). */
      baseUrl: string;
      /** Each endpoint with the model it is asked for. */
      endpoints: Array<{ endpoint: string; model: string }>;
      concurrency: number;
      abandoned: number;
      resumed: boolean;
    }
  | {
      type: 'progress';
      filled: number;
      slots: number;
      requestsDone: number;
      requestsFailed: number;
      inFlight: number;
      costUsd: number;
      promptTokens: number;
      completionTokens: number;
      elapsedSec: number;
      /** Each endpoint's share, when a model has a pool of several (one endpoint's state comes as transport events). */
      endpoints?: Array<Omit<EndpointProgress, 'requestsPerSec'>>;
    }
  | { type: 'transport'; transport: TransportState }
  /** An endpoint of a pool refused the requests and was left out; the others carry on. */
  | { type: 'warning'; message: string }
  | { type: 'done'; reason: RespondOutcome['reason']; filled: number; slots: number; costUsd: number; message: string };


/**
 * The LLM judge over a run as one job (curate --judge: a 0–5 score per kept sample; curate --rank: a 1–10 rating
 * per candidate response and each sample's order of them), as the terminal UI runs it.
 */
export type JudgeEvent =
  | { type: 'start'; runDir: string; mode: 'judge' | 'rank'; model: string; concurrency: number; rejudge: boolean }
  | { type: 'progress'; done: number; total: number; scored: number; failed: number; costUsd: number; elapsedSec: number }
  | { type: 'transport'; transport: TransportState }
  | { type: 'warning'; message: string }
  | {
      type: 'done';
      stop: 'done' | 'budget' | 'interrupted' | 'endpoint-down';
      scored: number;
      failed: number;
      notJudged: number;
      costUsd: number;
      message: string;
      /** rank: samples the judge has a complete order of now, and of those with a tie */
      ranked?: { ranked: number; withTies: number; incomplete: number };
      /** judge: items whose status the re-curation with the judge threshold changed */
      changed?: number;
    };


/* Training: what a run reports while it runs (the trainer emits these through one callback). */
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
  /** `method`: sft, dpo, rm, ppo… (absent from older emitters: SFT) */
  | { type: 'start'; backend: string; device: string; plan: TrainPlanSummary; outDir: string; method?: string }
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
      /**
       * The method's own figures of this step under TRL's log keys (rewards/chosen, accuracy, objective/scores,
       * objective/kl…), as train_log.jsonl has them: what a screen shows without knowing the method.
       */
      metrics?: Record<string, number>;
    }
  | { type: 'eval'; step: number; evalLoss: number; tokens: number; dpo?: DpoStepMetrics; metrics?: Record<string, number>; method?: string }
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
