import OpenAI from 'openai';
import { z } from 'zod';
import { ApiError } from '../errors.js';
import type { GenerationConfig } from '../config/generation.js';
import type { TransportState } from '../events.js';
import { EndpointGate } from './endpoint-gate.js';
import { backoffMs, classifyFailure, InvalidResponseError, sleep } from './retry-policy.js';
import { RetriesExhaustedError } from './chat-client.js';
import { createRedactor, type Redact } from './redact.js';
import { endpointOf } from './endpoint-of.js';

const embeddingsSchema = z.object({
  data: z.array(z.object({ index: z.number().int().min(0), embedding: z.array(z.number()) })),
  usage: z.object({ prompt_tokens: z.number() }).partial().nullish(),
});

export interface EmbeddingsResult {
  vectors: Float32Array[];
  promptTokens: number;
}

/**
 * `/v1/embeddings` of any OpenAI-compatible server (OpenAI, vLLM, Ollama, TEI, llama.cpp), with generation's
 * settings: the same timeout, retries, backoff and endpoint gate as ChatClient (the SDK's own retries are off), and
 * every failure message redacted of the key.
 */
export class EmbeddingsClient {
  readonly model: string;
  readonly endpoint: string;
  private readonly sdk: OpenAI;
  private readonly gate: EndpointGate;
  private readonly maxRetries: number;
  private readonly redact: Redact;
  private readonly onTransport: ((s: TransportState) => void) | undefined;

  constructor(g: GenerationConfig, o: { model: string; apiKey: string | undefined; baseURL?: string | undefined; onTransport?: (s: TransportState) => void }) {
    this.model = o.model;
    this.maxRetries = g.maxRetries;
    this.onTransport = o.onTransport;
    this.redact = createRedactor([o.apiKey]);
    this.gate = new EndpointGate({ pauseAfterFailures: g.pauseAfterFailures, pauseMs: g.pauseSeconds * 1000, maxPauses: g.maxPauses, ...(o.onTransport ? { onState: o.onTransport } : {}) });
    const baseURL = o.baseURL ?? g.baseUrl ?? undefined;
    this.sdk = new OpenAI({ apiKey: o.apiKey ?? 'sk-no-key-set', ...(baseURL ? { baseURL } : {}), timeout: g.timeoutMs, maxRetries: 0 });
    this.endpoint = endpointOf(this.sdk.baseURL);
  }

  /** Vectors in the order of `texts`. Throws ApiError on a fatal answer, RetriesExhaustedError after the retries. */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<EmbeddingsResult> {
    for (let attempt = 0; ; attempt++) {
      await this.gate.wait(signal);
      try {
        const result = await this.once(texts, signal);
        this.gate.success();
        return result;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const verdict = classifyFailure(err, this.endpoint);
        const reason = this.redact(verdict.reason);
        if (verdict.kind === 'fatal') throw new ApiError(`embeddings ${this.model} at ${this.endpoint}: ${reason}`, verdict.status, this.redact(verdict.hint));
        this.gate.failure(reason);
        if (attempt >= this.maxRetries) throw new RetriesExhaustedError(`embeddings: gave up after ${attempt + 1} attempts: ${reason}`);
        const waitMs = verdict.waitHintMs ?? backoffMs(attempt, Math.random);
        this.onTransport?.({ state: 'backoff', reason, waitMs, attempt: attempt + 1 });
        await sleep(waitMs, signal);
      }
    }
  }

  private async once(texts: readonly string[], signal: AbortSignal | undefined): Promise<EmbeddingsResult> {
    const raw: unknown = await this.sdk.embeddings.create({ model: this.model, input: [...texts], encoding_format: 'float' }, signal ? { signal } : {});
    const parsed = embeddingsSchema.safeParse(raw);
    if (!parsed.success || parsed.data.data.length !== texts.length) {
      const issue = parsed.success ? `${parsed.data.data.length} vectors for ${texts.length} texts` : `${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message}`;
      throw new InvalidResponseError(`the endpoint answered something that is not an embeddings list (${issue})`);
    }
    const vectors = new Array<Float32Array>(texts.length);
    for (const d of parsed.data.data) vectors[d.index] = Float32Array.from(d.embedding);
    if (vectors.some((v) => v === undefined)) throw new InvalidResponseError('the embeddings answer skips an index');
    return { vectors, promptTokens: parsed.data.usage?.prompt_tokens ?? 0 };
  }
}
