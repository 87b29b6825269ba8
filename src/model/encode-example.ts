import type { Tokenizer } from './tokenizer.js';
import { formatAlpacaPrompt } from './alpaca-prompt.js';
import { IGNORE_INDEX } from './loss.js';
import type { Sample } from '../data/sample.js';

export interface EncodeOptions {
  /** Maximum sequence length in tokens (alpaca-lora's cutoff_len). */
  cutoffLen: number;
  /** Also learn the prompt tokens (alpaca-lora's train_on_inputs). Defaults to false: loss on the response only. */
  trainOnInputs?: boolean;
  /** Append EOS after the response when it fits. Defaults to true. */
  addEos?: boolean;
}

export interface EncodedExample {
  inputIds: number[];
  /** Per position: the token to predict there (after the shift), or -100 for no loss. */
  labels: number[];
  /** Tokens of the prompt (BOS included), i.e. the masked prefix. */
  promptLength: number;
}

/**
 * Tokenises prompt + output the way stanford_alpaca / alpaca-lora do: the whole text at once (so the boundary
 * tokenises as it will at inference), truncated to cutoffLen, EOS appended when there is room, and the first
 * len(tokenize(prompt)) labels masked.
 */
export function encodeExample(tok: Tokenizer, s: Sample, opts: EncodeOptions): EncodedExample {
  if (!Number.isInteger(opts.cutoffLen) || opts.cutoffLen < 2) throw new TypeError(`encodeExample: cutoffLen must be an integer >= 2, got ${opts.cutoffLen}`);
  const prompt = formatAlpacaPrompt(s);
  return encodePromptResponse(tok, prompt, s.output, opts);
}

/** As encodeExample, for an already formatted prompt (an empty prompt scores the response alone, e.g. for IFD). */
export function encodePromptResponse(tok: Tokenizer, prompt: string, response: string, opts: EncodeOptions): EncodedExample {
  const full = encodeHead(tok, prompt + response, opts.cutoffLen);
  if ((opts.addEos ?? true) && full.length < opts.cutoffLen && full[full.length - 1] !== tok.eosId) full.push(tok.eosId);
  const promptLength = Math.min(prompt === '' ? (tok.addBosDefault && tok.bosId !== null ? 1 : 0) : encodeHead(tok, prompt, opts.cutoffLen).length, full.length);
  const labels = full.map((id, i) => (!opts.trainOnInputs && i < promptLength ? IGNORE_INDEX : id));
  return { inputIds: full, labels, promptLength };
}

/** Tokens past the cutoff that a text prefix must still yield before its first `cutoff` tokens are trusted. */
const BOUNDARY_TOKENS = 64;

/**
 * The first `cutoff` tokens of `text`, tokenising only as much of it as they need: a 50 MB record would otherwise
 * be tokenised whole (and run V8 out of memory) only to keep its first few hundred tokens. A prefix that yields
 * BOUNDARY_TOKENS more tokens than needed tokenises the same as the whole text up to the cutoff (a cut changes only
 * the tokens of the word it splits); a prefix that does not is doubled.
 */
export function encodeHead(tok: Tokenizer, text: string, cutoff: number): number[] {
  for (let chars = Math.max(4096, 16 * (cutoff + BOUNDARY_TOKENS)); ; chars *= 2) {
    if (chars >= text.length) return tok.encode(text).slice(0, cutoff);
    const ids = tok.encode(text.slice(0, chars));
    if (ids.length >= cutoff + BOUNDARY_TOKENS) return ids.slice(0, cutoff);
  }
}
