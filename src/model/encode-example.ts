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
  const full = tok.encode(prompt + response).slice(0, opts.cutoffLen);
  if ((opts.addEos ?? true) && full.length < opts.cutoffLen && full[full.length - 1] !== tok.eosId) full.push(tok.eosId);
  const promptLength = Math.min(prompt === '' ? (tok.addBosDefault && tok.bosId !== null ? 1 : 0) : tok.encode(prompt).length, full.length);
  const labels = full.map((id, i) => (!opts.trainOnInputs && i < promptLength ? IGNORE_INDEX : id));
  return { inputIds: full, labels, promptLength };
}
