/**
 * Progress events the generation engine emits. The CLI turns them into a progress line, log lines or JSON lines;
 * the terminal UI renders them. The engine never prints.
 */
export interface SamplePreview {
  id: number;
  instruction: string;
  input: string;
  output: string;
}

export interface EndpointProgress {
  endpoint: string;
  model: string;
  state: 'up' | 'down' | 'dead';
  inFlight: number;
  ok: number;
  failed: number;
  requestsPerSec: number;
}

export type TransportState =
  | { state: 'ok' }
  | { state: 'backoff'; reason: string; waitMs: number; attempt: number }
  | { state: 'paused'; reason: string; waitMs: number; pause: number };

/**
 * Why generation stopped. `batch-pending`: a round waits for results from outside (a file written with
 * --emit-batch); `cancelled`: --cancel-batches cancelled the run's batches.
 */
export type GenerationStopReason = 'target' | 'budget' | 'interrupted' | 'endpoint-down' | 'batch-pending' | 'cancelled';

export type GenerateEvent =
  | {
      type: 'start';
      runDir: string;
      model: string;
      baseUrl: string;
      template: string;
      lang: 'en' | 'zh';
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
  | { type: 'warning'; message: string }
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
