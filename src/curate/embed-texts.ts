import type { EmbeddingsClient } from '../llm/embeddings-client.js';
import { textHash, type EmbeddingCache } from '../store/embedding-cache.js';

export interface EmbedOptions {
  client: EmbeddingsClient;
  /** Vectors already fetched, by model and text hash; each answered batch is stored at once. */
  cache: EmbeddingCache | null;
  /** Texts per request. Default 64. */
  batchSize?: number;
  /** Requests in flight. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: { cached: number; sent: number; total: number }) => void;
}

/**
 * Embeddings of `texts` in their order: cached ones from the cache, the rest sent in batches (each text once, even
 * when repeated) and cached as each batch arrives, so a killed run resumes with what it had.
 */
export async function embedTexts(texts: readonly string[], o: EmbedOptions): Promise<Float32Array[]> {
  const model = o.client.model;
  const hashes = texts.map(textHash);
  const byHash = new Map<string, Float32Array>();
  const missing: Array<{ hash: string; text: string }> = [];
  for (const h of hashes) {
    if (byHash.has(h)) continue;
    const hit = o.cache?.get(model, h);
    if (hit) byHash.set(h, hit);
  }
  const queued = new Set<string>();
  hashes.forEach((h, i) => {
    if (byHash.has(h) || queued.has(h)) return;
    queued.add(h);
    missing.push({ hash: h, text: texts[i]! });
  });
  const cached = texts.length - missing.length;
  const size = o.batchSize ?? 64;
  const batches: Array<typeof missing> = [];
  for (let i = 0; i < missing.length; i += size) batches.push(missing.slice(i, i + size));
  let sent = 0;
  let next = 0;
  o.onProgress?.({ cached, sent, total: texts.length });
  // A few workers take batches in turn: concurrency without a scheduler (p-limit lives in src/llm).
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const r = await o.client.embed(batch.map((b) => b.text), o.signal);
      const entries = batch.map((b, k) => ({ hash: b.hash, vector: r.vectors[k]! }));
      o.cache?.put(model, entries);
      for (const e of entries) byHash.set(e.hash, e.vector);
      sent += batch.length;
      o.onProgress?.({ cached, sent, total: texts.length });
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 4, batches.length) }, worker));
  return hashes.map((h) => byHash.get(h)!);
}
