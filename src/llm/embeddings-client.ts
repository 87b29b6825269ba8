import type { GenerationConfig, Prices } from '../config/generation.js';
import type { TransportState } from '../events.js';
import { ChatClient } from './chat-client.js';
import { EndpointGate } from './endpoint-gate.js';
import type { EndpointPool } from './endpoint-pool.js';
import type { EmbeddingsResult } from './embeddings-request.js';

export type { EmbeddingsResult } from './embeddings-request.js';

/**
 * Where embeddings requests go: one endpoint (EmbeddingsClient) or a pool of them (embeddingsFromPool). `embed`
 * retries, pauses and moves a request as generation's requests are; `onRoute` hears each endpoint it goes to.
 */
export interface Embedder {
  readonly model: string;
  /** The endpoint, or the endpoints of a pool, as messages may show them. */
  readonly endpoint: string;
  embed(texts: readonly string[], signal?: AbortSignal, onRoute?: (endpoint: string, model: string) => void): Promise<EmbeddingsResult & { endpoint?: string; model?: string }>;
}

/**
 * `/v1/embeddings` of one OpenAI-compatible server (OpenAI, vLLM, Ollama, TEI, llama.cpp) with generation's
 * settings: it is a ChatClient's embed, so the same timeout, retries, backoff, endpoint gate and key redaction.
 */
export class EmbeddingsClient implements Embedder {
  readonly model: string;
  readonly endpoint: string;
  private readonly client: ChatClient;

  constructor(g: GenerationConfig, o: { model: string; apiKey: string | undefined; baseURL?: string | undefined; prices?: Prices; onTransport?: (s: TransportState) => void }) {
    this.model = o.model;
    const gate = new EndpointGate({ pauseAfterFailures: g.pauseAfterFailures, pauseMs: g.pauseSeconds * 1000, maxPauses: g.maxPauses, ...(o.onTransport ? { onState: o.onTransport } : {}) });
    this.client = new ChatClient({
      model: o.model,
      apiKey: o.apiKey,
      baseURL: o.baseURL ?? g.baseUrl ?? undefined,
      timeoutMs: g.timeoutMs,
      maxRetries: g.maxRetries,
      gate,
      ...(o.prices ? { prices: o.prices } : {}),
      ...(o.onTransport ? { onTransport: o.onTransport } : {}),
    });
    this.endpoint = this.client.endpoint;
  }

  embed(texts: readonly string[], signal?: AbortSignal, onRoute?: (endpoint: string, model: string) => void): Promise<EmbeddingsResult & { endpoint: string; model: string }> {
    onRoute?.(this.endpoint, this.model);
    return this.client.embed(texts, signal).then((r) => ({ ...r, endpoint: this.endpoint, model: this.model }));
  }
}

/** The embeddings of a pool whose endpoints all serve `model` (see endpointsServing). */
export function embeddingsFromPool(pool: EndpointPool, model: string): Embedder {
  const endpoints = pool.status().map((s) => s.endpoint);
  return {
    model,
    endpoint: endpoints.length === 1 ? endpoints[0]! : `${endpoints.length} endpoints`,
    embed: (texts, signal, onRoute) => pool.embed(texts, signal, onRoute),
  };
}
