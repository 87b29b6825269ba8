import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { ModelError } from '../errors.js';
import { readJsonFile } from './config.js';

export interface Tokenizer {
  /** Token ids of `text`; BOS is prepended when `addBos` (default: what the tokenizer config says). Never adds EOS. */
  encode(text: string, opts?: { addBos?: boolean }): number[];
  /** Text of `ids`, special tokens (BOS/EOS/pad…) left out as transformers' skip_special_tokens does. */
  decode(ids: number[]): string;
  bosId: number | null;
  eosId: number;
  padId: number;
  addBosDefault: boolean;
  /** Number of ids the tokenizer can produce (vocabulary plus added tokens). */
  size: number;
}

type TokenSpec = string | { content?: string } | null | undefined;
const tokenText = (t: TokenSpec): string | null => (typeof t === 'string' ? t : (t?.content ?? null));

/**
 * Loads tokenizer.json + tokenizer_config.json with @huggingface/tokenizers. Special ids come from
 * tokenizer_config.json (what transformers' AutoTokenizer uses), falling back to config.json's ids.
 */
export async function loadTokenizer(dir: string, fallback: { bosTokenId?: number | null; eosTokenIds?: number[] } = {}): Promise<Tokenizer> {
  const tokFile = join(dir, 'tokenizer.json');
  const cfgFile = join(dir, 'tokenizer_config.json');
  const hint = 'the model directory needs tokenizer.json and tokenizer_config.json from the Hugging Face repository';
  const json = readJsonFile(tokFile, hint) as Record<string, unknown>;
  const cfg = readJsonFile(cfgFile, hint) as Record<string, unknown>;
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(json, cfg);
  } catch (e) {
    throw new ModelError(`${tokFile}: cannot build the tokenizer (${(e as Error).message})`, hint, e);
  }
  const idOf = (spec: TokenSpec): number | null => {
    const text = tokenText(spec);
    if (text === null) return null;
    return tok.token_to_id(text) ?? null;
  };
  const bosId = idOf(cfg['bos_token'] as TokenSpec) ?? fallback.bosTokenId ?? null;
  const eosId = idOf(cfg['eos_token'] as TokenSpec) ?? fallback.eosTokenIds?.[0] ?? null;
  if (eosId === null) throw new ModelError(`${cfgFile}: no eos_token`, 'set eos_token in tokenizer_config.json (or eos_token_id in config.json)');
  const padId = idOf(cfg['pad_token'] as TokenSpec) ?? eosId;
  // Llama 3's config has no add_bos_token: its post-processor adds <|begin_of_text|>, so ask the tokenizer itself.
  let addBosDefault: boolean;
  if (typeof cfg['add_bos_token'] === 'boolean') addBosDefault = cfg['add_bos_token'] && bosId !== null;
  else addBosDefault = bosId !== null && tok.encode('a').ids[0] === bosId;
  let size = 0;
  for (const id of tok.get_vocab(true).values()) size = Math.max(size, id + 1);
  return {
    bosId,
    eosId,
    padId,
    addBosDefault,
    size,
    encode(text, opts = {}) {
      const ids = tok.encode(text, { add_special_tokens: false }).ids;
      return (opts.addBos ?? addBosDefault) && bosId !== null ? [bosId, ...ids] : ids;
    },
    decode(ids) {
      return tok.decode(ids, { skip_special_tokens: true });
    },
  };
}
