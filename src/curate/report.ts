import { chineseVerbObject, englishVerbObject, type VerbObject } from './verb-object.js';
import type { Lang, Sample } from '../data/sample.js';
import type { ContaminationRow } from './contamination-index.js';
import type { DedupMethodReport } from './dedup-report.js';

/** What a dataset report says; the same object backs the terminal text, `--json` and the Markdown + SVG report. */
export interface DatasetReport {
  lang: Lang;
  /** Samples the length, input and verb figures describe (the kept ones, for a run or a curated file). */
  samples: number;
  /** Curation counts over every item, when the data went through curation. */
  curation: { total: number; byStatus: Record<string, number>; byReason: Record<string, number> } | null;
  /** Removals per duplicate method with their similarity histograms, when the data went through curation. */
  dedup: DedupMethodReport[] | null;
  /** Per benchmark file (curate --decontaminate): items, items hit, samples removed. */
  contamination: ContaminationRow[] | null;
  lengths: { instruction: LengthStats; input: LengthStats; output: LengthStats };
  withInput: { count: number; share: number };
  verbs: VerbReport;
}

export interface LengthStats {
  /** English: whitespace-separated words; Chinese: characters other than whitespace. */
  unit: 'words' | 'characters';
  mean: number;
  median: number;
  p90: number;
  max: number;
  /** Equal-width bins up to the 99th percentile; the last bin also holds everything above it. */
  bins: Array<{ from: number; to: number; count: number }>;
}

export interface VerbReport {
  /** How the verb/object pairs were found (shown in the report). */
  method: string;
  /** Instructions analysed (a deterministic, evenly spaced sample when the dataset is larger than the cap). */
  analysed: number;
  /** Of those, how many had a task verb. */
  withVerb: number;
  /** Of those, how many had a direct object too. */
  withObject: number;
  top: Array<{ verb: string; count: number; objects: Array<{ noun: string; count: number }> }>;
}


export interface ReportOptions {
  lang: Lang;
  curation?: DatasetReport['curation'];
  dedup?: DedupMethodReport[] | null;
  contamination?: ContaminationRow[] | null;
  /** Most instructions given to the part-of-speech tagger (about 0.5 ms each); default 10,000. */
  verbSample?: number;
  topVerbs?: number;
  objectsPerVerb?: number;
  bins?: number;
}

const METHOD = {
  en: 'compromise part-of-speech tags: the first word when it is an (imperative) verb, and the head of the first noun group after it',
  zh: 'heuristic (no Chinese parser is bundled): a leading verb from a list of ~90 common instruction verbs after polite prefixes such as 请, and the noun after numerals, measure words, demonstratives and any …的 modifier',
} as const;

export function buildDatasetReport(samples: Sample[], opts: ReportOptions): DatasetReport {
  const unit = opts.lang === 'zh' ? 'characters' : 'words';
  const measure = opts.lang === 'zh' ? (s: string) => s.replace(/\s+/g, '').length : (s: string) => s.split(/\s+/).filter(Boolean).length;
  const bins = opts.bins ?? 20;
  const withInput = samples.filter((s) => s.input.trim() !== '').length;
  return {
    lang: opts.lang,
    samples: samples.length,
    curation: opts.curation ?? null,
    dedup: opts.dedup ?? null,
    contamination: opts.contamination ?? null,
    lengths: {
      instruction: lengthStats(samples.map((s) => measure(s.instruction)), unit, bins),
      // Items without input would pile up at 0 and hide the shape; the share with input is reported beside it.
      input: lengthStats(samples.filter((s) => s.input.trim() !== '').map((s) => measure(s.input)), unit, bins),
      output: lengthStats(samples.map((s) => measure(s.output)), unit, bins),
    },
    withInput: { count: withInput, share: samples.length ? withInput / samples.length : 0 },
    verbs: verbReport(samples, opts),
  };
}

export function lengthStats(values: number[], unit: LengthStats['unit'], binCount: number): LengthStats {
  if (values.length === 0) return { unit, mean: 0, median: 0, p90: 0, max: 0, bins: [] };
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;
  const hi = Math.max(1, q(0.99));
  const width = niceWidth(hi / binCount);
  const n = Math.max(1, Math.ceil((hi + 1) / width));
  const bins = Array.from({ length: n }, (_, i) => ({ from: i * width, to: (i + 1) * width, count: 0 }));
  for (const v of values) bins[Math.min(n - 1, Math.floor(v / width))]!.count++;
  return { unit, mean: values.reduce((a, b) => a + b, 0) / values.length, median: q(0.5), p90: q(0.9), max: sorted[sorted.length - 1]!, bins };
}

/** 1, 2, 5, 10, 20, 50…: bin edges a reader can add up. */
function niceWidth(raw: number): number {
  if (raw <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function verbReport(samples: Sample[], opts: ReportOptions): VerbReport {
  const cap = opts.verbSample ?? 10_000;
  const step = samples.length > cap ? samples.length / cap : 1;
  const picked: Sample[] = [];
  for (let x = 0; Math.floor(x) < samples.length && picked.length < cap; x += step) picked.push(samples[Math.floor(x)]!);
  const extract: (s: string) => VerbObject | null = opts.lang === 'zh' ? chineseVerbObject : englishVerbObject;
  const verbs = new Map<string, { count: number; objects: Map<string, number> }>();
  let withVerb = 0;
  let withObject = 0;
  for (const s of picked) {
    const vo = extract(s.instruction);
    if (!vo) continue;
    withVerb++;
    let v = verbs.get(vo.verb);
    if (!v) verbs.set(vo.verb, (v = { count: 0, objects: new Map() }));
    v.count++;
    if (vo.object) {
      withObject++;
      v.objects.set(vo.object, (v.objects.get(vo.object) ?? 0) + 1);
    }
  }
  const byCount = <K>(a: [K, number], b: [K, number]) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]));
  const top = [...verbs.entries()]
    .map(([verb, v]) => [verb, v.count] as [string, number])
    .sort(byCount)
    .slice(0, opts.topVerbs ?? 20)
    .map(([verb, count]) => ({
      verb,
      count,
      objects: [...verbs.get(verb)!.objects.entries()]
        .sort(byCount)
        .slice(0, opts.objectsPerVerb ?? 4)
        .map(([noun, c]) => ({ noun, count: c })),
    }));
  return { method: METHOD[opts.lang], analysed: picked.length, withVerb, withObject, top };
}
