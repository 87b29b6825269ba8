import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeOutput } from '../io/write-output.js';
import { z } from 'zod';
import { DataError } from '../errors.js';
import { parseJsonAs } from '../data/parse-json-as.js';

const lineSchema = z.record(z.string(), z.unknown());

/**
 * An output JSONL file with one line per input item, appended as items finish, so an interrupted `sample --data`
 * or `score` resumes where it stopped. Existing lines must belong to the same items (checked by `key`);
 * a half-written last line is dropped.
 */
export class ResumableJsonl {
  readonly done: number;
  private constructor(readonly path: string, done: number) {
    this.done = done;
  }

  static open(path: string, keys: string[], keyField: string): ResumableJsonl {
    // The file is created by the first append, so a run that fails before any result leaves nothing behind.
    if (!existsSync(path)) return new ResumableJsonl(path, 0);
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n');
    const complete: string[] = [];
    for (const line of lines.slice(0, -1)) {
      if (line.trim() === '') continue;
      let rec: Record<string, unknown>;
      try {
        rec = parseJsonAs(line, lineSchema);
      } catch {
        break;
      }
      complete.push(line);
      const i = complete.length - 1;
      if (i >= keys.length || rec[keyField] !== keys[i]) {
        throw new DataError(`${path}:${i + 1}: this output file belongs to other data (line ${i + 1} does not match item ${i + 1})`, 'pass a new --out file, or delete this one to start over');
      }
    }
    // Rewrite without a torn last line so appends start on a clean line.
    if (complete.length !== lines.filter((l) => l.trim() !== '').length) writeOutput(path, complete.map((l) => `${l}\n`).join(''), { label: '--out' });
    return new ResumableJsonl(path, complete.length);
  }

  append(records: unknown[]): void {
    if (records.length) appendFileSync(this.path, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  }
}
