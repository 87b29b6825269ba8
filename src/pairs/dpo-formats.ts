import { z } from 'zod';
import { chatUserContent } from '../data/alpaca-file.js';
import { formatAlpacaPrompt } from '../model/alpaca-prompt.js';
import { writeOutput, type WriteOutputOptions } from '../io/write-output.js';
import type { PreferencePair } from './preference-pairs.js';

/**
 * Preference-pair files, as the trainers read them:
 * - dpo: TRL's standard preference format, JSONL {prompt, chosen, rejected}; the prompt is the Alpaca template
 *   (ending in "### Response:\n"), the same text our SFT training conditions on.
 * - dpo-chat: TRL's conversational preference format, JSONL {prompt: [user message], chosen: [assistant message],
 *   rejected: [assistant message]}; the trainer applies the model's chat template.
 * - dpo-alpaca: LLaMA-Factory's Alpaca preference format, a JSON list of {instruction, input, chosen, rejected}
 *   (dataset_info.json: "ranking": true, columns prompt=instruction, query=input, chosen, rejected).
 */
export const dpoFormatSchema = z.enum(['dpo', 'dpo-chat', 'dpo-alpaca']);
export type DpoFormat = z.infer<typeof dpoFormatSchema>;

export function formatPair(p: PreferencePair, format: DpoFormat): unknown {
  const chosen = p.chosen.text!;
  const rejected = p.rejected.text!;
  if (format === 'dpo') return { prompt: formatAlpacaPrompt(p.item), chosen, rejected };
  if (format === 'dpo-chat') {
    return {
      prompt: [{ role: 'user', content: chatUserContent(p.item) }],
      chosen: [{ role: 'assistant', content: chosen }],
      rejected: [{ role: 'assistant', content: rejected }],
    };
  }
  return { instruction: p.item.instruction, input: p.item.input, chosen, rejected };
}

export function formatPairs(pairs: PreferencePair[], format: DpoFormat): string {
  const records = pairs.map((p) => formatPair(p, format));
  if (format === 'dpo-alpaca') return `${JSON.stringify(records, null, 2)}\n`;
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
}

/** Through the shared writer: `-` is stdout, a symlink is written through, an interrupted export leaves no half file. */
export function writePairs(path: string, pairs: PreferencePair[], format: DpoFormat, opts: WriteOutputOptions = {}): void {
  writeOutput(path, formatPairs(pairs, format), opts);
}
