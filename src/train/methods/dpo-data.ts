import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DataError } from '../../errors.js';
import { formatAlpacaPrompt } from '../../model/alpaca-prompt.js';
import { encodePromptResponse } from '../../model/encode-example.js';
import type { Tokenizer } from '../../model/tokenizer.js';

/** TRL's standard preference record: the prompt as text (here the rendered Alpaca prompt), two responses. */
export const dpoPairSchema = z.object({ prompt: z.string(), chosen: z.string(), rejected: z.string(), margin: z.number().optional() });
/** LLaMA-Factory's Alpaca-style preference record. */
export const dpoAlpacaPairSchema = z.object({ instruction: z.string(), input: z.string().default(''), chosen: z.string(), rejected: z.string(), margin: z.number().optional() });

export interface PreferencePair {
  /** the full prompt text the responses follow */
  prompt: string;
  chosen: string;
  rejected: string;
  /** how much more the chosen response should score (TRL's optional `margin` column; reward models only) */
  margin?: number;
}

export interface EncodedSequence {
  inputIds: number[];
  labels: number[];
  lossTokens: number;
}

export interface EncodedPair {
  chosen: EncodedSequence;
  rejected: EncodedSequence;
}

/**
 * Reads preference pairs from JSONL (or a JSON array) in `export --format dpo` ({prompt, chosen, rejected}) or
 * `--format dpo-alpaca` ({instruction, input, chosen, rejected}) form; a broken record names its line and field.
 */
export function readPreferencePairs(path: string): PreferencePair[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check the --data path');
  }
  const records: Array<{ rec: unknown; where: string }> = [];
  if (text.trimStart().startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (e) {
      throw new DataError(`${path}: not valid JSON (${(e as Error).message})`, 'write the pairs with alpaca-forge export --format dpo');
    }
    (arr as unknown[]).forEach((rec, i) => records.push({ rec, where: `${path}: record ${i + 1}` }));
  } else {
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        records.push({ rec: JSON.parse(line), where: `${path}:${i + 1}` });
      } catch (e) {
        throw new DataError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`, 'each line of a JSONL file must be one JSON object');
      }
    });
  }
  if (records.length === 0) throw new DataError(`${path}: no preference pairs`, 'export pairs with alpaca-forge export --run DIR --format dpo --out FILE');
  return records.map(({ rec, where }) => toPair(rec, where));
}

function toPair(rec: unknown, where: string): PreferencePair {
  const obj = (rec ?? {}) as Record<string, unknown>;
  if (Array.isArray(obj['prompt']) || Array.isArray(obj['chosen'])) {
    throw new DataError(`${where}: a conversational (dpo-chat) pair`, "the built-in trainer uses the Alpaca prompt: export with --format dpo or dpo-alpaca");
  }
  const schema = 'prompt' in obj ? dpoPairSchema : dpoAlpacaPairSchema;
  const r = schema.safeParse(rec);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new DataError(`${where}: field "${issue?.path.join('.') || '(record)'}": ${issue?.message ?? 'invalid'}`, 'each pair needs strings "prompt" (or "instruction"/"input"), "chosen" and "rejected"');
  }
  const d = r.data as z.output<typeof dpoPairSchema> | z.output<typeof dpoAlpacaPairSchema>;
  const prompt = 'prompt' in d ? d.prompt : formatAlpacaPrompt(d);
  if (d.chosen === d.rejected) throw new DataError(`${where}: "chosen" and "rejected" are the same text`, 'a preference pair needs two different responses; drop this record');
  return { prompt, chosen: d.chosen, rejected: d.rejected, ...(d.margin !== undefined ? { margin: d.margin } : {}) };
}

/**
 * Prompt + response (+ EOS) per side, loss on the response tokens only (DPO scores the responses, not the prompt).
 * A pair where either response is cut away entirely by the cutoff carries no preference and is dropped.
 */
export function encodePreferencePairs(tok: Tokenizer, pairs: readonly PreferencePair[], cutoffLen: number): { encoded: EncodedPair[]; kept: number[]; dropped: number } {
  const encoded: EncodedPair[] = [];
  const kept: number[] = [];
  pairs.forEach((p, i) => {
    const side = (response: string): EncodedSequence => {
      const e = encodePromptResponse(tok, p.prompt, response, { cutoffLen, addEos: true });
      const lossTokens = e.labels.reduce((n, l, t) => n + (t > 0 && l !== -100 ? 1 : 0), 0);
      return { inputIds: e.inputIds, labels: e.labels, lossTokens };
    };
    const chosen = side(p.chosen);
    const rejected = side(p.rejected);
    if (chosen.lossTokens === 0 || rejected.lossTokens === 0) return;
    encoded.push({ chosen, rejected });
    kept.push(i);
  });
  return { encoded, kept, dropped: pairs.length - encoded.length };
}

/** Identifies the encoded pairs, so cached reference log-probs and checkpoints are used only for the same data. */
export function fingerprintPairs(pairs: readonly EncodedPair[]): string {
  const h = createHash('sha256');
  for (const p of pairs) h.update(JSON.stringify([p.chosen.inputIds, p.chosen.labels, p.rejected.inputIds, p.rejected.labels]));
  return h.digest('hex').slice(0, 16);
}
