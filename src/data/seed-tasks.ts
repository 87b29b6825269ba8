import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DataError } from '../errors.js';
import { parseJson } from './json-syntax.js';

/**
 * One seed task in the self-instruct schema (the shape of stanford_alpaca's seed_tasks.jsonl). Generation samples
 * a few of these per request as worked examples, so empty strings are rejected where a model would copy them.
 */
export const seedTaskSchema = z.object({
  // Bundled files use "forge_en_0001…" and "forge_zh_0001…", unique across files; a user's own file may use any id.
  id: z.string().min(1, 'expected a non-empty id'),
  name: z.string().min(1, 'expected a non-empty name'),
  instruction: z.string().trim().min(1, 'expected a non-empty instruction'),
  instances: z
    .array(
      z.object({
        // Empty input is the schema's way of saying "no input", so it stays allowed.
        input: z.string(),
        output: z.string().trim().min(1, 'expected a non-empty output'),
      }),
    )
    .min(1, 'expected at least one instance'),
  is_classification: z.boolean(),
});
export type SeedTask = z.infer<typeof seedTaskSchema>;

/**
 * The id a bundled seed had before the bundled files got their own ids: they reused Alpaca's "seed_task_N" (English)
 * and "zh_seed_task_N" (Chinese), which earlier runs recorded as provenance. forge_en_0001 was seed_task_0.
 */
export function legacyBundledSeedId(id: string): string | undefined {
  const m = /^forge_(en|zh)_(\d{4})$/.exec(id);
  if (!m) return undefined;
  return `${m[1] === 'zh' ? 'zh_' : ''}seed_task_${Number(m[2]) - 1}`;
}

const hint = 'each line must be one JSON object: {"id", "name", "instruction", "instances": [{"input", "output"}], "is_classification"}';

/** Reads a seed-task JSONL file; a bad line throws DataError naming `path:line` and the offending field. */
export function loadSeedTasks(path: string): SeedTask[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`${path}: cannot read seed tasks (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check --seeds, or omit it to use the bundled seeds', e);
  }
  const tasks: SeedTask[] = [];
  const firstLineOfId = new Map<string, number>();
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${path}:${i + 1}`;
      const parsed = parseJson(line);
      if (!parsed.ok) throw new DataError(`${where}:${parsed.problem.column}: not valid JSON (${parsed.problem.reason})`, hint);
      const r = seedTaskSchema.safeParse(parsed.value);
      if (!r.success) {
        const issue = r.error.issues[0];
        const field = issue?.path.join('.') || '(record)';
        throw new DataError(`${where}: field "${field}": ${issue?.message ?? 'invalid'}`, hint);
      }
      // A seed is referred to by its id (e.g. as the item a generated task duplicates), so an id must pick out one task.
      const earlier = firstLineOfId.get(r.data.id);
      if (earlier !== undefined) throw new DataError(`${where}: field "id": "${r.data.id}" is already used on line ${earlier}`, 'give every seed task its own id');
      firstLineOfId.set(r.data.id, i + 1);
      tasks.push(r.data);
    });
  if (tasks.length === 0) throw new DataError(`${path}: no seed tasks found`, hint);
  return tasks;
}
