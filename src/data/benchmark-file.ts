import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { DataError } from '../errors.js';
import { parseCsv } from './csv-records.js';
import { parseJson } from './json-syntax.js';

/** One test item of a benchmark: where it is (for the record of a removal) and its text, field by field. */
export interface BenchmarkItem {
  /** 1-based: the JSONL or CSV line, or the JSON array's or Parquet file's record number. */
  position: number;
  /** 'line' for JSONL and CSV, 'record' for a JSON array or a Parquet file. */
  unit: 'line' | 'record';
  texts: string[];
}

export interface BenchmarkFile {
  path: string;
  name: string;
  items: BenchmarkItem[];
}

/**
 * Reads a benchmark test set (MMLU, GSM8K, HumanEval…) as JSON (an array of objects), JSONL, CSV or Parquet (the
 * format the Hugging Face Hub serves test sets in). `fields` names the fields that hold its text (question,
 * choices, answer…); every one must be there, as text, a number or a list of them. Without `fields`, every text
 * (or list of texts) field of a record is used. A record that does not fit names the file, the line or record,
 * and the field.
 */
export async function loadBenchmarkFile(path: string, fields: readonly string[] | null): Promise<BenchmarkFile> {
  if (!/\.parquet$/i.test(path)) return readBenchmarkFile(path, fields);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check --decontaminate');
  }
  let rows: Array<Record<string, unknown>>;
  try {
    rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
  } catch (e) {
    const why = ((e as Error).message || String(e)).split('\n')[0];
    throw new DataError(`${path}: not a readable Parquet file (${why})`, 'download it again, or export the benchmark as JSONL');
  }
  const items = rows.map((rec, i) => ({ position: i + 1, unit: 'record' as const, texts: recordTexts(rec, fields, `${path}: record ${i + 1}`) }));
  return benchmarkOf(path, items);
}

/** The text formats of loadBenchmarkFile (JSON, JSONL, CSV), read synchronously; Parquet needs loadBenchmarkFile. */
export function readBenchmarkFile(path: string, fields: readonly string[] | null): BenchmarkFile {
  if (/\.parquet$/i.test(path)) throw new TypeError(`readBenchmarkFile: ${path} is Parquet; read it with loadBenchmarkFile`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check --decontaminate');
  }
  const body = text.replace(/^\uFEFF/, '');
  const items: BenchmarkItem[] = [];
  if (/\.csv$/i.test(path)) {
    const csv = parseCsv(body);
    if (!csv.ok) throw new DataError(`${path}:${csv.line}: not valid CSV (${csv.reason})`, 'fix that line, or export the benchmark as JSONL');
    for (const r of csv.records) items.push({ position: r.line, unit: 'line', texts: recordTexts(r.values, fields, `${path}:${r.line}`) });
  } else if (body.trimStart().startsWith('[')) {
    const parsed = parseJson(body);
    if (!parsed.ok) throw new DataError(`${path}:${parsed.problem.line}:${parsed.problem.column}: not valid JSON (${parsed.problem.reason})`, 'fix the JSON there, or use JSONL');
    (parsed.value as unknown[]).forEach((rec, i) => items.push({ position: i + 1, unit: 'record', texts: recordTexts(rec, fields, `${path}: record ${i + 1}`) }));
  } else {
    body.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const parsed = parseJson(line);
      if (!parsed.ok) throw new DataError(`${path}:${i + 1}:${parsed.problem.column}: not valid JSON (${parsed.problem.reason})`, 'each line of a JSONL file must be one JSON object');
      items.push({ position: i + 1, unit: 'line', texts: recordTexts(parsed.value, fields, `${path}:${i + 1}`) });
    });
  }
  return benchmarkOf(path, items);
}

/** A file with no item is a wrong path or a failed download, never a clean benchmark: refused rather than a silent 0 hits. */
function benchmarkOf(path: string, items: BenchmarkItem[]): BenchmarkFile {
  if (items.length === 0) throw new DataError(`${path}: no benchmark items in the file`, 'check the path given to --decontaminate, or download the test set again');
  return { path, name: basename(path), items };
}

function recordTexts(rec: unknown, fields: readonly string[] | null, where: string): string[] {
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) throw new DataError(`${where}: expected an object`, 'each benchmark item must be one object with its fields');
  const obj = rec as Record<string, unknown>;
  if (fields === null) return Object.values(obj).flatMap((v) => textsOf(v) ?? []);
  return fields.flatMap((f) => {
    if (!(f in obj)) throw new DataError(`${where}: field "${f}" is missing`, `check --bench-fields (this item has: ${Object.keys(obj).join(', ') || 'no fields'})`);
    const t = textsOf(obj[f]);
    if (t === null) throw new DataError(`${where}: field "${f}" is not text`, 'a benchmark field must be a string, a number or a list of them');
    return t;
  });
}

function textsOf(v: unknown): string[] | null {
  if (typeof v === 'string') return [v];
  // Parquet's 64-bit integers arrive as bigint.
  if (typeof v === 'number' || typeof v === 'bigint') return [String(v)];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint')) return v.map(String);
  return null;
}
