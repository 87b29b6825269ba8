import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DataError } from '../errors.js';

const scoreLineSchema = z.object({ index: z.number().int().min(0), ifd: z.number() });

/**
 * IFD per record (0-based index) from the JSONL that `alpaca-forge score --ifd` writes, for `curate --keep ifd`.
 * A line without an index or an ifd names the file, the line and the field.
 */
export function readIfdScores(path: string): Map<number, number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check --scores');
  }
  const out = new Map<number, number>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DataError(`${path}:${i + 1}: not valid JSON`, 'pass the JSONL written by `alpaca-forge score --ifd`');
    }
    const r = scoreLineSchema.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new DataError(`${path}:${i + 1}: field "${issue.path.join('.')}": ${issue.message}`, 'pass the JSONL written by `alpaca-forge score --ifd` (with --ifd)');
    }
    out.set(r.data.index, r.data.ifd);
  });
  return out;
}
