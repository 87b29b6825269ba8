import { loadBenchmarkFile, type BenchmarkFile } from '../data/benchmark-file.js';
import { hasCjk, rougeTokens } from './rouge-tokenize.js';
import { hashString } from './shingles.js';

export interface ContaminationOptions {
  /** n-gram width in tokens (words; characters for Chinese). Tulu 3 uses 8, NeMo Curator 13. */
  ngram: number;
  /** null: one shared n-gram removes a sample; else the least share of its n-grams that must be shared. */
  overlap: number | null;
}

/** Why a sample was removed: the benchmark item it shares text with, and the first shared span. */
export interface ContaminationHit {
  file: string;
  position: number;
  unit: 'line' | 'record';
  span: string;
  /** The sample's n-grams found in a benchmark, and all of them. */
  shared: number;
  total: number;
}

/** Per benchmark file: its items, those that matched a sample, and the samples removed because of it. */
export interface ContaminationRow {
  file: string;
  items: number;
  /** Items shorter than the n-gram width, which cannot match. */
  tooShort: number;
  itemsHit: number;
  samplesRemoved: number;
}

const EMPTY = -1;
const B1 = 0x01000193;
const B2 = 0x5bd1e995;

/**
 * Benchmark n-grams in one hashed set (open addressing over 53-bit keys built from two 32-bit rolling hashes, so a
 * false match among 10⁷ n-grams is about one in 10⁹), each pointing at the first item that holds it. A sample's
 * instruction, input and output are checked field by field (no n-gram spans two fields) after the same
 * normalisation (NFKC, lower case, ROUGE tokens: Latin words and single CJK characters).
 */
export class ContaminationIndex {
  private keys = new Float64Array(1 << 16).fill(EMPTY);
  private values = new Int32Array(1 << 16);
  private used = 0;
  private readonly itemFile: number[] = [];
  private readonly itemPosition: number[] = [];
  private readonly itemUnit: Array<'line' | 'record'> = [];
  /** The latest hit of each sample key, so curating the same items again does not count them twice. */
  private readonly hits = new Map<string, { item: number }>();
  private readonly rows: ContaminationRow[];

  constructor(
    private readonly files: readonly BenchmarkFile[],
    private readonly opts: ContaminationOptions,
  ) {
    this.rows = files.map((f) => ({ file: f.path, items: f.items.length, tooShort: 0, itemsHit: 0, samplesRemoved: 0 }));
    files.forEach((f, fi) => {
      for (const item of f.items) {
        const id = this.itemFile.length;
        this.itemFile.push(fi);
        this.itemPosition.push(item.position);
        this.itemUnit.push(item.unit);
        let grams = 0;
        for (const text of item.texts) {
          grams += forEachGram(tokensOf(text), opts.ngram, (key) => {
            this.insert(key, id);
            return false;
          });
        }
        if (grams === 0) this.rows[fi]!.tooShort++;
      }
    });
  }

  /** The first benchmark item the sample shares enough n-grams with, or null; remembered under `key` for the table. */
  check(key: string, texts: readonly string[]): ContaminationHit | null {
    this.hits.delete(key);
    let shared = 0;
    let total = 0;
    let first: { item: number; tokens: string[]; at: number } | null = null;
    const stopAtFirst = this.opts.overlap === null;
    for (const text of texts) {
      const tokens = tokensOf(text);
      total += forEachGram(tokens, this.opts.ngram, (key, at) => {
        const item = this.lookup(key);
        if (item === EMPTY) return false;
        shared++;
        first ??= { item, tokens, at };
        return stopAtFirst;
      });
      if (stopAtFirst && first) break;
    }
    const hit = first as { item: number; tokens: string[]; at: number } | null;
    if (!hit) return null;
    if (this.opts.overlap !== null && shared / total < this.opts.overlap) return null;
    const fi = this.itemFile[hit.item]!;
    this.hits.set(key, { item: hit.item });
    const spanTokens = hit.tokens.slice(hit.at, hit.at + this.opts.ngram);
    return {
      file: this.files[fi]!.path,
      position: this.itemPosition[hit.item]!,
      unit: this.itemUnit[hit.item]!,
      span: hasCjk(spanTokens.join('')) ? joinTokens(spanTokens) : spanTokens.join(' '),
      shared,
      total: stopAtFirst ? shared : total,
    };
  }

  /** Per benchmark file: items, items hit and samples removed, from the latest check of each sample. */
  table(): ContaminationRow[] {
    const rows = this.rows.map((r) => ({ ...r }));
    const itemsHit = new Set<number>();
    for (const { item } of this.hits.values()) {
      const row = rows[this.itemFile[item]!]!;
      row.samplesRemoved++;
      if (!itemsHit.has(item)) {
        itemsHit.add(item);
        row.itemsHit++;
      }
    }
    return rows;
  }

  get ngrams(): number {
    return this.used;
  }

  private slot(key: number): number {
    const mask = this.keys.length - 1;
    // The low 32 bits of the key are the second rolling hash, already well mixed.
    let s = (key % 4294967296) & mask;
    while (this.keys[s] !== EMPTY && this.keys[s] !== key) s = (s + 1) & mask;
    return s;
  }

  private insert(key: number, item: number): void {
    if ((this.used + 1) * 2 > this.keys.length) this.grow();
    const s = this.slot(key);
    if (this.keys[s] !== EMPTY) return;
    this.keys[s] = key;
    this.values[s] = item;
    this.used++;
  }

  private lookup(key: number): number {
    const s = this.slot(key);
    return this.keys[s] === EMPTY ? EMPTY : this.values[s]!;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Float64Array(keys.length * 2).fill(EMPTY);
    this.values = new Int32Array(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === EMPTY) continue;
      const s = this.slot(keys[i]!);
      this.keys[s] = keys[i]!;
      this.values[s] = values[i]!;
    }
  }
}

/** The index of benchmark files as `curate --decontaminate FILE… [--bench-fields a,b] [--ngram N] [--overlap F]` names them. */
export async function loadContamination(paths: readonly string[], opts: ContaminationOptions & { fields: readonly string[] | null }): Promise<ContaminationIndex> {
  const files: BenchmarkFile[] = [];
  for (const p of paths) files.push(await loadBenchmarkFile(p, opts.fields));
  return new ContaminationIndex(files, { ngram: opts.ngram, overlap: opts.overlap });
}

export function tokensOf(text: string): string[] {
  return rougeTokens(text.normalize('NFKC'));
}

/** Chinese characters join without spaces; Latin words around them keep one. */
function joinTokens(tokens: string[]): string {
  let out = '';
  for (const t of tokens) out += out && !(hasCjk(t) && hasCjk(out.at(-1)!)) ? ` ${t}` : t;
  return out;
}

/**
 * Calls `visit` with the 53-bit key and start of each n-gram of `tokens` (two polynomial rolling hashes mod 2³²
 * over the tokens' hashes, rolled in O(1) per step); stops early when `visit` returns true. Returns the number of
 * n-grams visited.
 */
function forEachGram(tokens: readonly string[], n: number, visit: (key: number, at: number) => boolean): number {
  if (tokens.length < n) return 0;
  const h = tokens.map(hashString);
  let p1 = 1;
  let p2 = 1;
  for (let i = 1; i < n; i++) {
    p1 = Math.imul(p1, B1);
    p2 = Math.imul(p2, B2);
  }
  let r1 = 0;
  let r2 = 0;
  for (let i = 0; i < n; i++) {
    r1 = (Math.imul(r1, B1) + h[i]!) | 0;
    r2 = (Math.imul(r2, B2) + (h[i]! ^ 0x9e3779b9)) | 0;
  }
  let count = 0;
  for (let at = 0; ; at++) {
    count++;
    if (visit((r1 >>> 0) * 2097152 + ((r2 >>> 0) >>> 11), at)) return count;
    const next = at + n;
    if (next >= h.length) return count;
    r1 = (Math.imul(r1 - Math.imul(h[at]!, p1), B1) + h[next]!) | 0;
    r2 = (Math.imul(r2 - Math.imul(h[at]! ^ 0x9e3779b9, p2), B2) + (h[next]! ^ 0x9e3779b9)) | 0;
  }
}
