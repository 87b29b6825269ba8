import type OpenAI from 'openai';
import { z } from 'zod';
import type { Prices } from '../config/generation.js';
import { costOf } from './budget.js';
import { InvalidResponseError } from './retry-policy.js';

/** The part of an /v1/embeddings answer we rely on; anything else the server sends is ignored. */
const embeddingsSchema = z.object({
  data: z.array(z.object({ index: z.number().int().min(0), embedding: z.array(z.number()) })),
  usage: z.object({ prompt_tokens: z.number() }).partial().nullish(),
});

export interface EmbeddingsResult {
  vectors: Float32Array[];
  promptTokens: number;
  costUsd: number;
}

/**
 * One attempt at /v1/embeddings (OpenAI, vLLM, Ollama, TEI, llama.cpp server): the answer checked with zod, one
 * vector per text in the order of the texts, priced at the model's input price. ChatClient retries it.
 */
export async function onceEmbeddings(sdk: OpenAI, model: string, texts: readonly string[], signal: AbortSignal | undefined, prices: Prices | undefined): Promise<EmbeddingsResult> {
  const raw: unknown = await sdk.embeddings.create({ model, input: [...texts], encoding_format: 'float' }, signal ? { signal } : {});
  const parsed = embeddingsSchema.safeParse(raw);
  if (!parsed.success || parsed.data.data.length !== texts.length) {
    const issue = parsed.success ? `${parsed.data.data.length} vectors for ${texts.length} texts` : `${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message}`;
    throw new InvalidResponseError(`the endpoint answered something that is not an embeddings list (${issue})`);
  }
  const vectors = new Array<Float32Array>(texts.length);
  for (const d of parsed.data.data) {
    if (d.index >= texts.length) throw new InvalidResponseError(`the embeddings answer has index ${d.index} for ${texts.length} texts`);
    vectors[d.index] = Float32Array.from(d.embedding);
  }
  // A loop, not some(): some() skips the holes a missing index leaves.
  for (let i = 0; i < vectors.length; i++) if (vectors[i] === undefined) throw new InvalidResponseError(`the embeddings answer skips index ${i}`);
  const dims = new Set(vectors.map((v) => v.length));
  if (dims.size > 1 || dims.has(0)) throw new InvalidResponseError(`the embeddings answer holds vectors of ${[...dims].sort((a, b) => a - b).join(' and ')} dimensions`);
  const promptTokens = parsed.data.usage?.prompt_tokens ?? 0;
  return { vectors, promptTokens, costUsd: costOf(prices, model, promptTokens, 0) };
}
