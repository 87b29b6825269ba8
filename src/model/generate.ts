import * as tf from '@tensorflow/tfjs';
import type { LlamaModel } from './load.js';
import { adapterOptions, forwardHidden, lmHead, type ForwardAdapter } from './llama.js';
import { KVCache } from './kv-cache.js';
import { trimBufferPool } from './backend-pool.js';
import { sampleToken, seededRandom, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seed of the sampling RNG. Defaults to a random seed. */
  seed?: number;
  /** Token ids that end the answer. Defaults to generation_config's eos_token_id plus the tokenizer's EOS. */
  stopIds?: number[];
  /** An adapter: a LoRA hook, or the hooks of any adapter type (virtual tokens join at the prefill). */
  lora?: ForwardAdapter;
  /** Called after every new token (streaming). */
  onToken?: (id: number) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  /** New token ids (the stop token excluded). */
  ids: number[];
  text: string;
  stoppedBy: 'eos' | 'length' | 'context' | 'aborted';
  promptTokens: number;
  prefillMs: number;
  decodeMs: number;
}

/** Last-position logits of a forward pass that appends to `cache`. */
async function nextLogits(model: LlamaModel, ids: number[], cache: KVCache, adapter: ForwardAdapter | undefined): Promise<Float32Array> {
  const logits = tf.tidy(() => {
    const hidden = forwardHidden(model, tf.tensor2d([ids], [1, ids.length], 'int32'), { cache, ...adapterOptions(adapter) });
    // The last row: virtual tokens prepended at the prefill make the hidden states longer than `ids`.
    const last = tf.reshape(tf.slice(hidden, [0, hidden.shape[1] - 1, 0], [1, 1, -1]), [1, model.config.hiddenSize]) as tf.Tensor2D;
    return lmHead(model, last);
  });
  // Read outside tidy (returning a large TypedArray from tidy makes tfjs walk it element by element), and
  // asynchronously: a GPU backend cannot read synchronously in Node.
  try {
    return (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
    // A cache that outgrew its chunk left buffers of the old size in the GPU pool: give back what is past the budget.
    trimBufferPool();
  }
}

/** Continues `promptIds` with KV-cache decoding until a stop token, maxNewTokens, or the context limit. */
export async function generate(model: LlamaModel, promptIds: number[], opts: GenerateOptions): Promise<GenerateResult> {
  if (promptIds.length === 0) throw new TypeError('generate: the prompt has no tokens');
  const stop = new Set(opts.stopIds ?? [...model.generationConfig.eosTokenIds, model.tokenizer.eosId]);
  const random = seededRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
  const limit = model.config.maxPositionEmbeddings;
  const cache = new KVCache();
  const out: number[] = [];
  let stoppedBy: GenerateResult['stoppedBy'] = 'length';
  const t0 = performance.now();
  let prefillMs = 0;
  try {
    let logits = await nextLogits(model, promptIds, cache, opts.lora);
    prefillMs = performance.now() - t0;
    while (out.length < opts.maxNewTokens) {
      if (opts.signal?.aborted) {
        stoppedBy = 'aborted';
        break;
      }
      const id = sampleToken(logits, opts, random);
      if (stop.has(id)) {
        stoppedBy = 'eos';
        break;
      }
      out.push(id);
      opts.onToken?.(id);
      if (out.length >= opts.maxNewTokens) break;
      if (cache.length >= limit) {
        stoppedBy = 'context';
        break;
      }
      logits = await nextLogits(model, [id], cache, opts.lora);
    }
  } finally {
    cache.dispose();
  }
  return {
    ids: out,
    text: model.tokenizer.decode(out),
    stoppedBy,
    promptTokens: promptIds.length,
    prefillMs,
    decodeMs: performance.now() - t0 - prefillMs,
  };
}
