import type { LlamaModel } from './load.js';
import type { ForwardAdapter } from './llama.js';
import { encodeExample, encodePromptResponse, type EncodedExample } from './encode-example.js';
import { perExampleNll } from './loss.js';
import type { Sample } from '../data/sample.js';

/** Token limit per sequence when none is given (score --cutoff-len's default). */
export const DEFAULT_SCORE_CUTOFF = 512;

export interface ScoreOptions {
  /** Sequences per forward pass. Defaults to 8. */
  batchSize?: number;
  /** Token limit per sequence, as in training. Defaults to DEFAULT_SCORE_CUTOFF. */
  cutoffLen?: number;
  /** Also score the output without its prompt and report the ratio (instruction-following difficulty). */
  ifd?: boolean;
  /** An adapter: a LoRA hook or the hooks of any adapter type. */
  lora?: ForwardAdapter;
  /** Called after each batch with the number of samples done. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface SampleScore {
  /** Mean NLL (nats/token) of the response tokens (output + EOS) given the prompt: the training loss. */
  nll: number;
  /** Response tokens scored. */
  tokens: number;
  /** With ifd: mean NLL of the output alone (no instruction). */
  nllAlone?: number;
  /** With ifd: nll / nllAlone (Li et al. 2023, "From Quantity to Quality"). */
  ifd?: number;
}

/**
 * Scores samples in length-sorted batches (less padding), returning results in input order. Stops early (returning
 * what is done) when `signal` aborts.
 */
export async function scoreSamples(model: LlamaModel, samples: Array<Sample>, opts: ScoreOptions = {}): Promise<SampleScore[]> {
  const batchSize = opts.batchSize ?? 8;
  const cutoffLen = opts.cutoffLen ?? DEFAULT_SCORE_CUTOFF;
  const tok = model.tokenizer;
  const conditioned = samples.map((s) => encodeExample(tok, s, { cutoffLen }));
  const alone = opts.ifd ? samples.map((s) => encodePromptResponse(tok, '', s.output, { cutoffLen })) : null;
  const condNll = await nllInBatches(model, conditioned, batchSize, opts, 0, alone ? 2 : 1);
  const aloneNll = alone ? await nllInBatches(model, alone, batchSize, opts, samples.length, 2) : null;
  return condNll.map((c, i) => {
    const score: SampleScore = { nll: c.tokens ? c.nllSum / c.tokens : NaN, tokens: c.tokens };
    const a = aloneNll?.[i];
    if (a) {
      score.nllAlone = a.tokens ? a.nllSum / a.tokens : NaN;
      score.ifd = score.nll / score.nllAlone;
    }
    return score;
  });
}

async function nllInBatches(model: LlamaModel, encoded: EncodedExample[], batchSize: number, opts: ScoreOptions, offset: number, passes: number) {
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[a]!.inputIds.length - encoded[b]!.inputIds.length);
  const out = encoded.map(() => ({ nllSum: 0, tokens: 0 }));
  const total = encoded.length * passes;
  for (let start = 0; start < order.length; start += batchSize) {
    if (opts.signal?.aborted) break;
    const idx = order.slice(start, start + batchSize);
    const res = await perExampleNll(model, { inputIds: idx.map((i) => encoded[i]!.inputIds), labels: idx.map((i) => encoded[i]!.labels) }, opts.lora);
    res.forEach((r, j) => (out[idx[j]!] = r));
    opts.onProgress?.(offset + Math.min(start + batchSize, order.length), total);
  }
  return out;
}
