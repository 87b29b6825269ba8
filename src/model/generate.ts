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

/** Last-position logits of a forward pass that appends to `cache`: [B·V] for rows `ids` ([B][T], one length). */
async function nextLogits(model: LlamaModel, ids: number[][], cache: KVCache, adapter: ForwardAdapter | undefined, mask?: number[][]): Promise<Float32Array> {
  const B = ids.length;
  const T = ids[0]!.length;
  const logits = tf.tidy(() => {
    const hidden = forwardHidden(model, tf.tensor2d(ids.flat(), [B, T], 'int32'), { cache, ...(mask ? { attentionMask: mask } : {}), ...adapterOptions(adapter) });
    // The last row: virtual tokens prepended at the prefill make the hidden states longer than `ids`.
    const last = tf.reshape(tf.slice(hidden, [0, hidden.shape[1] - 1, 0], [B, 1, -1]), [B, model.config.hiddenSize]) as tf.Tensor2D;
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
  const { seed, onToken, ...rest } = opts;
  const [result] = await generateBatch(model, [promptIds], { ...rest, seeds: [seed ?? Math.floor(Math.random() * 2 ** 32)], ...(onToken ? { onToken: (id: number) => onToken(id) } : {}) });
  return result!;
}

export interface BatchGenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** One sampling seed per prompt. */
  seeds: readonly number[];
  stopIds?: number[];
  lora?: ForwardAdapter;
  /** Called after every new token of any row (streaming). */
  onToken?: (id: number, row: number) => void;
  signal?: AbortSignal;
}

/**
 * Continues several prompts at once: left-padded into one batch, one forward pass per new token for all of them
 * (a pass costs about what one row's does on a CPU or GPU that a single row leaves idle). Padded keys are masked,
 * and RoPE's scores depend only on the distance between two positions, so a row shifted right by its padding
 * attends as it would alone. Each row samples with its own RNG (`seeds[i]`), so it draws what `generate` draws
 * with that seed, up to the float rounding of the batched products. A row that stops keeps a masked place in the
 * batch until every row has stopped; the context limit counts the longest prompt.
 */
export async function generateBatch(model: LlamaModel, prompts: readonly number[][], opts: BatchGenerateOptions): Promise<GenerateResult[]> {
  const B = prompts.length;
  if (B === 0) return [];
  if (opts.seeds.length !== B) throw new TypeError(`generateBatch: ${B} prompts but ${opts.seeds.length} seeds`);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new TypeError(`generateBatch: prompt ${i} has no tokens`);
  });
  const stop = new Set(opts.stopIds ?? [...model.generationConfig.eosTokenIds, model.tokenizer.eosId]);
  const randoms = opts.seeds.map((s) => seededRandom(s));
  const limit = model.config.maxPositionEmbeddings;
  const V = model.config.vocabSize;
  const L = Math.max(...prompts.map((p) => p.length));
  // Any id will do for padding (it is masked); 0 is in every vocabulary.
  const ids = prompts.map((p) => [...new Array<number>(L - p.length).fill(0), ...p]);
  const mask = prompts.map((p) => [...new Array<number>(L - p.length).fill(0), ...new Array<number>(p.length).fill(1)]);
  const cache = new KVCache();
  const outs = prompts.map((): number[] => []);
  const ended: Array<GenerateResult['stoppedBy'] | null> = prompts.map(() => (opts.maxNewTokens <= 0 ? 'length' : null));
  const t0 = performance.now();
  let prefillMs = 0;
  try {
    let logits = await nextLogits(model, ids, cache, opts.lora, mask);
    prefillMs = performance.now() - t0;
    const endAll = (why: GenerateResult['stoppedBy']) => ended.forEach((e, b) => (ended[b] = e ?? why));
    while (ended.some((e) => e === null)) {
      // A signal that fired during the last pass stops before its tokens are drawn.
      if (opts.signal?.aborted) {
        endAll('aborted');
        break;
      }
      const next = new Array<number>(B).fill(0);
      for (let b = 0; b < B; b++) {
        if (ended[b]) continue;
        const id = sampleToken(logits.subarray(b * V, (b + 1) * V), opts, randoms[b]!);
        if (stop.has(id)) {
          ended[b] = 'eos';
          continue;
        }
        outs[b]!.push(id);
        opts.onToken?.(id, b);
        next[b] = id;
        if (outs[b]!.length >= opts.maxNewTokens) ended[b] = 'length';
      }
      if (ended.every((e) => e !== null)) break;
      if (cache.length >= limit) {
        endAll('context');
        break;
      }
      logits = await nextLogits(model, next.map((id) => [id]), cache, opts.lora, ended.map((e) => [e ? 0 : 1]));
    }
  } finally {
    cache.dispose();
  }
  const decodeMs = performance.now() - t0 - prefillMs;
  return outs.map((out, b) => ({ ids: out, text: model.tokenizer.decode(out), stoppedBy: ended[b] ?? 'length', promptTokens: prompts[b]!.length, prefillMs, decodeMs }));
}
