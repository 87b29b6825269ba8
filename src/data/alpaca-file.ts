import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DataError } from '../errors.js';
import { writeOutput, type WriteOutputOptions } from '../io/write-output.js';
import { parseJson } from './json-syntax.js';
import { sampleSchema, type Sample } from './sample.js';

/**
 * Reads an Alpaca-format dataset: a JSON array of {instruction, input?, output} (alpaca_data.json) or JSONL of the
 * same. Extra fields are ignored. A broken record is reported with the file, the record (line for JSONL) and the
 * field, so the user can fix that one place.
 */
export function readAlpacaFile(path: string): Sample[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check the path');
  }
  const body = text.replace(/^\uFEFF/, '');
  if (body.trimStart().startsWith('[')) {
    const parsed = parseJson(body);
    if (!parsed.ok) {
      const p = parsed.problem;
      throw new DataError(`${path}:${p.line}:${p.column}: not valid JSON (${p.reason})`, 'fix the JSON there, or use JSONL (one object per line)');
    }
    const arr = parsed.value as unknown[];
    return arr.map((rec, i) => parseRecord(rec, `${path}: record ${i + 1}`));
  }
  const out: Sample[] = [];
  const lines = body.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const parsed = parseJson(line);
    if (!parsed.ok) {
      throw new DataError(`${path}:${i + 1}:${parsed.problem.column}: not valid JSON (${parsed.problem.reason})`, 'each line of a JSONL file must be one JSON object');
    }
    out.push(parseRecord(parsed.value, `${path}:${i + 1}`));
  });
  return out;
}

function parseRecord(rec: unknown, where: string): Sample {
  const r = sampleSchema.safeParse(rec);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path.join('.') || '(record)';
    throw new DataError(`${where}: field "${field}": ${issue?.message ?? 'invalid'}`, 'each record needs string fields "instruction" and "output" (and optionally "input")');
  }
  return r.data;
}

/** What `export --format` and the review screen's export dialog offer. */
export const exportFormatSchema = z.enum(['alpaca', 'jsonl', 'messages']);
export type ExportFormat = z.infer<typeof exportFormatSchema>;

/** Formats samples as Alpaca JSON (indented list), JSONL, or chat `messages` JSONL. */
export function formatSamples(samples: Sample[], format: ExportFormat): string {
  const plain = samples.map((s) => ({ instruction: s.instruction, input: s.input, output: s.output }));
  if (format === 'alpaca') return `${JSON.stringify(plain, null, 2)}\n`;
  if (format === 'jsonl') return plain.map((s) => JSON.stringify(s)).join('\n') + (plain.length ? '\n' : '');
  return (
    plain
      .map((s) =>
        JSON.stringify({
          messages: [
            { role: 'user', content: chatUserContent(s) },
            { role: 'assistant', content: s.output },
          ],
        }),
      )
      .join('\n') + (plain.length ? '\n' : '')
  );
}

/** The user turn of a sample in chat form: the instruction, then its input after a blank line. */
export function chatUserContent(s: { instruction: string; input: string }): string {
  return s.input ? `${s.instruction}\n\n${s.input}` : s.instruction;
}

/** Writes through the one output helper: atomic for files, `-` for stdout, symlinks written through. */
export function writeSamples(path: string, samples: Sample[], format: ExportFormat, opts: WriteOutputOptions = {}): void {
  writeOutput(path, formatSamples(samples, format), opts);
}
