import type { Lang, Sample } from './data/sample.js';
/**
 * Progress events the generation engine emits. The CLI turns them into a progress line, log lines or JSON lines;
 * the terminal UI renders them. The engine never prints.
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
 * --emit-batch); `cancelled`: --cancel-batches cancelled the run's batches; `exhausted`: the method has no more
 * work before the target (evol's rounds are done).
 */
export type GenerationStopReason = 'target' | 'budget' | 'interrupted' | 'endpoint-down' | 'batch-pending' | 'cancelled' | 'exhausted';

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
    };

export type GenerateEventListener = (e: GenerateEvent) => void;
