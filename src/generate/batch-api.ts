import OpenAI, { toFile } from 'openai';
import { ApiError } from '../errors.js';
import { backoffMs, classifyFailure, sleep } from '../llm/retry-policy.js';

export interface BatchApiOptions {
  /** Defaults to $OPENAI_BASE_URL, else the OpenAI API (as the SDK does). */
  baseURL?: string | undefined;
  /** Kept in memory only. */
  apiKey?: string | undefined;
  /** Retries of one call on 429, 5xx and connection errors. Defaults to 6. */
  maxRetries?: number;
  timeoutMs?: number;
  random?: () => number;
}

/** What we keep of a batch's status. */
export interface BatchState {
  id: string;
  status: string;
  inputFileId: string;
  outputFileId: string | null;
  errorFileId: string | null;
  /** Why a batch failed validation, when it did. */
  errors: string[];
}

export const terminalBatchStatuses = new Set(['completed', 'expired', 'failed', 'cancelled']);

/**
 * The few Files and Batches calls batch mode needs, each retried through the project's retry policy (429, 5xx and
 * dropped connections; a 4xx is fatal and names the call).
 */
export class BatchApi {
  readonly baseURL: string;
  private readonly sdk: OpenAI;
  private readonly maxRetries: number;
  private readonly random: () => number;

  constructor(opts: BatchApiOptions) {
    this.sdk = new OpenAI({ apiKey: opts.apiKey ?? 'sk-no-key-set', ...(opts.baseURL ? { baseURL: opts.baseURL } : {}), timeout: opts.timeoutMs ?? 300_000, maxRetries: 0 });
    this.baseURL = this.sdk.baseURL;
    this.maxRetries = opts.maxRetries ?? 6;
    this.random = opts.random ?? Math.random;
  }

  upload(name: string, jsonl: string, signal: AbortSignal): Promise<string> {
    return this.call('upload the batch file', signal, async (own) => (await this.sdk.files.create({ file: await toFile(Buffer.from(jsonl, 'utf8'), name), purpose: 'batch' }, { signal: own })).id);
  }

  create(inputFileId: string, metadata: Record<string, string>, signal: AbortSignal): Promise<BatchState> {
    return this.call('create the batch', signal, async (own) =>
      toState(await this.sdk.batches.create({ input_file_id: inputFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata }, { signal: own })),
    );
  }

  /** A batch already made from this input file (created by a process killed before it could record the id). */
  findByInputFile(inputFileId: string, signal: AbortSignal): Promise<BatchState | null> {
    return this.call('list batches', signal, async (own) => {
      for await (const b of this.sdk.batches.list({ limit: 100 }, { signal: own })) if (b.input_file_id === inputFileId) return toState(b);
      return null;
    });
  }

  retrieve(batchId: string, signal: AbortSignal): Promise<BatchState> {
    return this.call(`check batch ${batchId}`, signal, async (own) => toState(await this.sdk.batches.retrieve(batchId, { signal: own })));
  }

  cancel(batchId: string, signal: AbortSignal): Promise<BatchState> {
    return this.call(`cancel batch ${batchId}`, signal, async (own) => toState(await this.sdk.batches.cancel(batchId, { signal: own })));
  }

  download(fileId: string, signal: AbortSignal): Promise<string> {
    return this.call(`download file ${fileId}`, signal, async (own) => (await this.sdk.files.content(fileId, { signal: own })).text());
  }

  /**
   * Each attempt gets a signal of its own, tied to the caller's by one listener that is removed when it ends: the
   * SDK adds a listener to the signal it is given and never removes it, so a run's signal, polled for hours, gathered
   * one per call and set off MaxListenersExceededWarning.
   */
  private async call<T>(what: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const own = new AbortController();
      const onAbort = () => own.abort(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await fn(own.signal);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const verdict = classifyFailure(err);
        if (verdict.kind === 'fatal') throw new ApiError(`batch API at ${this.baseURL}: could not ${what}: ${verdict.reason}`, verdict.status, verdict.hint);
        if (attempt >= this.maxRetries) throw new ApiError(`batch API at ${this.baseURL}: could not ${what} after ${attempt + 1} attempts: ${verdict.reason}`, undefined, 'check that the endpoint is up, then run the same command again to resume');
        await sleep(verdict.waitHintMs ?? backoffMs(attempt, this.random), signal);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    }
  }
}

function toState(b: OpenAI.Batches.Batch): BatchState {
  return {
    id: b.id,
    status: b.status,
    inputFileId: b.input_file_id,
    outputFileId: b.output_file_id ?? null,
    errorFileId: b.error_file_id ?? null,
    errors: (b.errors?.data ?? []).map((e) => `${e.line !== undefined && e.line !== null ? `line ${e.line}: ` : ''}${e.message ?? e.code ?? 'error'}`),
  };
}
