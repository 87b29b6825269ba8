import { z } from 'zod';
import type { TemplateFormat } from './prompt-template.js';

export interface ParsedTask {
  instruction: string;
  input: string;
  output: string;
}

export interface DroppedTask {
  /** Position of the item in the response (0-based). */
  index: number;
  reason: string;
  /** The text we could not use, kept for inspection. */
  raw: string;
}

export interface ParseResult {
  tasks: ParsedTask[];
  dropped: DroppedTask[];
}

const NO_INPUT = new Set(['<noinput>', '<no input>', 'noinput', 'no input', 'no input.', 'n/a', 'na', 'none', 'none.', 'null', '(none)', '-', '—', '""', "''", '无', '无输入', '无。', '（无）', '(无)', '<无输入>', '空', 'not applicable', 'no input required', 'no input needed']);

/** The many ways models say "this task has no input" all mean an empty input. */
export function normaliseInput(input: string): string {
  const t = input.trim();
  return NO_INPUT.has(t.toLowerCase()) ? '' : t;
}

const text = z.union([z.string(), z.number().transform(String), z.array(z.string()).transform((a) => a.join('\n'))]);
const jsonTaskSchema = z.object({
  instruction: z.string().trim().min(1, 'empty instruction'),
  input: z.union([text, z.null()]).optional().transform((v) => normaliseInput(v ?? '')),
  output: text.pipe(z.string().trim().min(1, 'empty output')),
});

/**
 * Salvages every usable task from one model answer. The model is asked for a clean format, but real answers
 * wrap it in prose or code fences, get cut off at max_tokens, or skip a number; each good item is kept and
 * each bad one is reported with its reason.
 */
export function parseResponse(answer: string, format: TemplateFormat, opts: { finishReason?: string | null; nextIndex?: number } = {}): ParseResult {
  return format === 'json' ? parseJsonTasks(answer, opts.finishReason ?? null) : parseNumberedTasks(answer, opts.finishReason ?? null, opts.nextIndex ?? 1);
}

// ---------- JSON array format ----------

function parseJsonTasks(answer: string, finishReason: string | null): ParseResult {
  const body = stripFences(answer);
  const whole = tryWholeJson(body);
  const records = whole ?? scanObjects(body, finishReason);
  const tasks: ParsedTask[] = [];
  const dropped: DroppedTask[] = [];
  records.forEach((rec, index) => {
    if ('error' in rec) {
      dropped.push({ index, reason: rec.error, raw: rec.raw });
      return;
    }
    const value = lowerKeys(rec.value);
    const r = jsonTaskSchema.safeParse(value);
    if (r.success) tasks.push(r.data);
    else dropped.push({ index, reason: describeZod(r.error, value), raw: JSON.stringify(rec.value).slice(0, 2000) });
  });
  if (records.length === 0) dropped.push({ index: 0, reason: 'no JSON tasks found in the answer', raw: answer.slice(0, 2000) });
  return { tasks, dropped };
}

type Rec = { value: unknown } | { error: string; raw: string };

function stripFences(s: string): string {
  const m = /```(?:json|JSON)?\s*\n?([\s\S]*?)(?:```|$)/.exec(s);
  return m && m[1]!.trim().length > 0 ? m[1]! : s;
}

/** The whole answer (or its bracketed part) is valid JSON: an array of tasks, {tasks: [...]}, or one task. */
function tryWholeJson(body: string): Rec[] | null {
  const start = body.search(/[[{]/);
  if (start < 0) return null;
  const end = Math.max(body.lastIndexOf(']'), body.lastIndexOf('}'));
  if (end <= start) return null;
  let v: unknown;
  try {
    v = JSON.parse(body.slice(start, end + 1));
  } catch {
    return null;
  }
  if (Array.isArray(v)) return v.map((value) => ({ value }));
  if (v && typeof v === 'object') {
    const arr = Object.values(v as Record<string, unknown>).find(Array.isArray);
    if (arr) return arr.map((value) => ({ value }));
    return [{ value: v }];
  }
  return null;
}

/** Walks the text object by object (string- and escape-aware), so one broken object does not lose the others. */
function scanObjects(body: string, finishReason: string | null): Rec[] {
  const out: Rec[] = [];
  let i = 0;
  while (i < body.length) {
    const open = body.indexOf('{', i);
    if (open < 0) break;
    const close = matchBrace(body, open);
    if (close < 0) {
      const raw = body.slice(open);
      if (raw.includes('"')) {
        out.push({ error: finishReason === 'length' ? 'truncated: the answer hit max_tokens' : 'unterminated object', raw: raw.slice(0, 2000) });
      }
      break;
    }
    const raw = body.slice(open, close + 1);
    try {
      out.push({ value: JSON.parse(raw) });
    } catch (e) {
      out.push({ error: `invalid JSON (${(e as Error).message})`, raw: raw.slice(0, 2000) });
    }
    i = close + 1;
  }
  return out;
}

function matchBrace(s: string, open: number): number {
  let depth = 0;
  let inString = false;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function lowerKeys(v: unknown): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k.toLowerCase().trim(), x]));
}

function describeZod(e: z.ZodError, value: unknown): string {
  const i = e.issues[0];
  if (!i) return 'invalid task';
  const field = i.path.join('.');
  // A union reports an absent key as "Invalid input"; say what the model actually left out.
  const absent = value !== null && typeof value === 'object' && field !== '' && !(field in value);
  if (absent || (i.code === 'invalid_type' && i.input === undefined)) return `missing "${field}"`;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not a task object';
  return field ? `${field}: ${i.message}` : i.message;
}

// ---------- Alpaca numbered-list format ----------

const ITEM_START = /^[ \t]*(?:#+[ \t]*)?(\d+)[ \t]*[.．、][ \t]*(?:Instruction|指令)[ \t]*[:：]/gim;

function parseNumberedTasks(answer: string, finishReason: string | null, nextIndex: number): ParseResult {
  // Our prompt ends with "N. Instruction:" and the model continues it, as in Alpaca's generate_instruction.py.
  const text = /^\s*(?:#+\s*)?\d+\s*[.．、]\s*(?:Instruction|指令)\s*[:：]/i.test(answer) ? answer : `${nextIndex}. Instruction:${answer}`;
  const starts = [...text.matchAll(ITEM_START)].map((m) => m.index);
  const tasks: ParsedTask[] = [];
  const dropped: DroppedTask[] = [];
  starts.forEach((start, index) => {
    const block = text.slice(start, starts[index + 1] ?? text.length).replace(/\n?\s*#{3,}\s*$/, '');
    const isLast = index === starts.length - 1;
    if (isLast && finishReason === 'length') {
      dropped.push({ index, reason: 'truncated: the answer hit max_tokens', raw: block.slice(0, 2000) });
      return;
    }
    const m = /^\s*(?:#+\s*)?\d+\s*[.．、]\s*(?:Instruction|指令)\s*[:：]\s*([\s\S]*?)\n\s*\d+\s*[.．、]\s*(?:Input|输入)\s*[:：]\s*([\s\S]*?)\n\s*\d+\s*[.．、]\s*(?:Output|输出)\s*[:：]\s*([\s\S]*)$/i.exec(block);
    if (!m) {
      const missing = /(?:Input|输入)\s*[:：]/i.test(block) ? 'Output' : 'Input';
      dropped.push({ index, reason: `missing "N. ${missing}:" section`, raw: block.slice(0, 2000) });
      return;
    }
    const instruction = m[1]!.trim();
    const output = m[3]!.trim();
    if (!instruction) dropped.push({ index, reason: 'empty instruction', raw: block.slice(0, 2000) });
    else if (!output) dropped.push({ index, reason: 'empty output', raw: block.slice(0, 2000) });
    else tasks.push({ instruction, input: normaliseInput(m[2]!), output });
  });
  if (starts.length === 0) dropped.push({ index: 0, reason: 'no numbered tasks found in the answer', raw: answer.slice(0, 2000) });
  return { tasks, dropped };
}
