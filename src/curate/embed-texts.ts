import type { Prices } from '../config/generation.js';
import { ApiError, ForgeError } from '../errors.js';
import { BudgetTracker } from '../llm/budget.js';
import type { Embedder } from '../llm/embeddings-client.js';
import { RequestLoop, type LoopFailure, type RequestMethod } from '../llm/request-loop.js';
import { textHash, type EmbeddingCache } from '../store/embedding-cache.js';

export interface EmbedOptions {
  /** One endpoint (EmbeddingsClient) or a pool (embeddingsFromPool). */
  client: Embedder;
  /** Vectors already fetched, by model and text hash; each answered batch is stored at once. */
  cache: EmbeddingCache | null;
  /** Texts per request. Default 64. */
  batchSize?: number;
  /** Requests in flight. Default 4 (a pool: its capacity). */
  concurrency?: number;
  /** Spending limit and spending so far; each request reserves its prompt's worst case first. Default: no limit. */
  budget?: BudgetTracker;
  /** Prices by model, for the budget; the embeddings model is priced by its input price. */
  prices?: Prices;
  signal?: AbortSignal;
  /** Each answered request, for the run's request log (its tokens and cost count in the run's totals). */
  record?: (r: { texts: number; promptTokens: number; costUsd: number; model: string; endpoint?: string }) => void;
  onProgress?: (p: { cached: number; sent: number; total: number }) => void;
}

type Batch = Array<{ hash: string; text: string }>;

/**
 * Embeddings of `texts` in their order: cached ones from the cache, the rest sent in batches (each text once, even
 * when repeated) through the request loop, as generation's requests go (concurrency, the budget reserved before
 * each request, retries and pauses in the client or pool, aborts), and cached as each batch arrives, so a killed
 * run resumes with what it had. Vectors missing at the end (the budget, a batch that failed every retry, Ctrl-C,
 * every endpoint down) throw: dedup needs them all, and a re-run sends only what is still missing.
 */
export async function embedTexts(texts: readonly string[], o: EmbedOptions): Promise<Float32Array[]> {
  const model = o.client.model;
  const hashes = texts.map(textHash);
  const byHash = new Map<string, Float32Array>();
  for (const h of hashes) {
    if (byHash.has(h)) continue;
    const hit = o.cache?.get(model, h);
    if (hit) byHash.set(h, hit);
  }
  const missing: Batch = [];
  const queued = new Set<string>();
  hashes.forEach((h, i) => {
    if (byHash.has(h) || queued.has(h)) return;
    queued.add(h);
    missing.push({ hash: h, text: texts[i]! });
  });
  const cached = texts.length - missing.length;
  const size = o.batchSize ?? 64;
  const batches: Batch[] = [];
  for (let i = 0; i < missing.length; i += size) batches.push(missing.slice(i, i + size));
  let sent = 0;
  o.onProgress?.({ cached, sent, total: texts.length });
  let next = 0;
  let failure: LoopFailure | null = null;
  // distilabel's Task shape: a batch is a job; its request is its texts, its answer their vectors.
  const method: RequestMethod<Batch> = {
    next: () => (next < batches.length ? batches[next++]! : 'done'),
    // As user messages, so the budget's worst case (prompt characters at the input price) prices the texts.
    build: (batch) => ({ model, messages: batch.map((b) => ({ role: 'user' as const, content: b.text })), maxTokens: 0 }),
    ingest: (batch, answer) => {
      const vectors = answer.vectors ?? [];
      const entries = batch.map((b, k) => ({ hash: b.hash, vector: vectors[k]! }));
      o.cache?.put(model, entries);
      o.record?.({ texts: batch.length, promptTokens: answer.promptTokens, costUsd: answer.costUsd, model, ...(answer.endpoint ? { endpoint: answer.endpoint } : {}) });
      for (const e of entries) byHash.set(e.hash, e.vector);
      sent += batch.length;
      o.onProgress?.({ cached, sent, total: texts.length });
    },
    failed: (_batch, f) => {
      if (f.kind !== 'abandoned') failure ??= f;
    },
  };
  const loop = new RequestLoop({
    send: async (req, onRoute) => {
      const r = await o.client.embed(
        req.messages.map((m) => m.content),
        req.signal,
        onRoute,
      );
      return { text: '', finishReason: null, promptTokens: r.promptTokens, completionTokens: 0, costUsd: r.costUsd, vectors: r.vectors, ...(r.endpoint ? { endpoint: r.endpoint } : {}) };
    },
    concurrency: Math.max(1, Math.min(o.concurrency ?? 4, batches.length || 1)),
    budget: o.budget ?? new BudgetTracker(undefined, 0),
    prices: o.prices,
    signal: o.signal,
  });
  const outcome = await loop.run(method);
  if (outcome.stop === 'interrupted') throw o.signal?.reason ?? new ForgeError('interrupted', 'embeddings: interrupted');
  if (outcome.endpointDown) throw outcome.endpointDown;
  const left = hashes.filter((h) => !byHash.has(h)).length;
  if (outcome.stop === 'budget' && left > 0) {
    throw new ForgeError('budget', `embeddings ${model}: the budget stops the run with ${left} texts not embedded ($${(o.budget?.spentUsd ?? 0).toFixed(4)} spent)`, {
      hint: 'raise the budget (generation.budgetUsd), then run the same command: the vectors fetched so far are cached',
    });
  }
  if (left > 0) {
    const f = failure as LoopFailure | null;
    if (f?.error instanceof ForgeError) throw f.error;
    throw new ApiError(`embeddings ${model} at ${o.client.endpoint}: ${left} texts not embedded${f ? ` (${f.message})` : ''}`, undefined, 'run the same command again: the vectors fetched so far are cached');
  }
  return sameDimensions(hashes.map((h) => byHash.get(h)!), model, cached);
}

/**
 * Vectors of one length, or a one-line error. Two lengths mean two models behind one name: endpoints of a pool
 * serving different embedding models, or a cache filled by another model of the same name.
 */
function sameDimensions(vectors: Float32Array[], model: string, cached: number): Float32Array[] {
  const first = vectors[0]?.length;
  const odd = vectors.findIndex((v) => v.length !== first);
  if (odd === -1) return vectors;
  const where = cached > 0 ? `; ${cached} of ${vectors.length} came from the cache` : '';
  throw new ForgeError('api', `embeddings ${model}: vectors of ${first} and ${vectors[odd]!.length} dimensions under one model name${where}`, {
    hint: `serve one embeddings model under this name on every endpoint; if the model behind the name changed, clear its cached vectors (the --embedding-cache file, or a run's: sqlite3 RUN/run.db "DELETE FROM embeddings WHERE model = '${model}'")`,
  });
}
