import { readAlpacaFile, writeSamples, type ExportFormat } from '../data/alpaca-file.js';
import { detectLang, type Sample, type Lang } from '../data/sample.js';
import { loadSeedTasks } from '../data/seed-tasks.js';
import { assertNotInput, writeOutput } from '../io/write-output.js';
import type { CurationConfig } from '../config/curation.js';
import { countVerdicts, curateItems, type CurationVerdict } from './curate-items.js';
import { judgeItems, loadJudgePrompt, type JudgeOutcome, type JudgeRunOptions, type JudgeSink } from './judge.js';
import type { DatasetReport } from './report.js';
import { writeMarkdownReport } from './report-render.js';
import type { ContaminationIndex, ContaminationRow } from './contamination-index.js';
import { dedupReport } from './dedup-report.js';
import { semanticMap, type Embed } from './semantic-pass.js';
import { UsageError } from '../errors.js';
import type { SimilarItem } from './duplicate-index.js';

export interface CurateFileOptions {
  inPath: string;
  outPath: string;
  cfg: CurationConfig;
  /** Default: detected from the data (most instructions with Chinese characters → zh). */
  lang?: Lang;
  /** Seed tasks JSONL to deduplicate against too (as a run does); default none. */
  seedsPath?: string | null;
  reportPath?: string | null;
  /** JSONL of every item not kept, with its status, reason and duplicate link. */
  rejectedPath?: string | null;
  /** Judge the kept items; the prompt (a name from prompts/ or a path) is loaded in the data's language. */
  judge?: (Omit<JudgeRunOptions, 'sink' | 'lang' | 'prompt'> & { promptName: string }) | null;
  minJudgeScore?: number | null;
  /** IFD per record (0-based), for `keep: ifd` (see readIfdScores). */
  ifd?: Map<number, number> | null;
  /** Benchmark n-grams (curate --decontaminate). */
  contamination?: ContaminationIndex | null;
  /** Embeddings for `dedup.semantic` (embedTexts through the endpoint and its cache). */
  embed?: Embed | null;
  onProgress?: (done: number, total: number) => void;
  /** Where an output path of `-` goes (default process.stdout). */
  stdout?: (text: string) => void;
}

export interface CurateFileResult {
  lang: Lang;
  counts: { total: number; byStatus: Record<string, number>; byReason: Record<string, number> };
  kept: number;
  written: string[];
  judge: JudgeOutcome | null;
  report: DatasetReport | null;
  /** Per benchmark file, with --decontaminate. */
  contamination: ContaminationRow[] | null;
}

/** `.jsonl` → JSONL, anything else → an Alpaca JSON array (the input's own format is not a concern of the output). */
export function formatForPath(path: string): ExportFormat {
  return /\.jsonl$/i.test(path) ? 'jsonl' : 'alpaca';
}

/**
 * Curates any Alpaca-format dataset (alpaca_data.json, a JSONL export…): records in file order through the rules
 * and duplicate removal, optionally judged, and the kept ones written in Alpaca format. Record numbers (1-based)
 * name items in duplicate links.
 */
export async function curateFile(o: CurateFileOptions): Promise<CurateFileResult> {
  // Checked before any work: writing the kept subset over the input would lose every other item.
  const inputs = [{ path: o.inPath, label: '--in' }, ...(o.seedsPath ? [{ path: o.seedsPath, label: '--seeds' }] : [])];
  for (const [path, label] of [[o.outPath, '--out'], [o.rejectedPath, '--rejected'], [o.reportPath, '--report']] as const) {
    if (path) assertNotInput({ path, label }, inputs);
  }
  const samples = readAlpacaFile(o.inPath);
  const lang = o.lang ?? detectLang(samples);
  const seeds = o.seedsPath ? loadSeedTasks(o.seedsPath).map((s) => ({ id: s.id, instruction: s.instruction, input: s.instances[0]?.input ?? '' })) : [];
  const candidates = samples.map((s, i) => ({ key: String(i + 1), ...s, judgeScore: null as number | null, ifd: o.ifd?.get(i) ?? null }));
  let semantic: Map<string, SimilarItem> | null = null;
  const run = () =>
    curateItems(candidates, o.cfg, lang, { seeds, minJudgeScore: o.minJudgeScore ?? null, contamination: o.contamination ?? null, semantic, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
  let verdicts = run();
  if (o.cfg.dedup.semantic) {
    if (!o.embed) throw new UsageError('semantic dedup needs an embeddings endpoint', 'pass --base-url URL (and --embedding-model M), or set generation.baseUrl in forge.yaml');
    semantic = await semanticMap(candidates, verdicts.map((v) => v.status !== 'rejected'), { threshold: o.cfg.dedup.semanticThreshold, keep: o.cfg.dedup.keep }, o.embed);
    verdicts = run();
  }
  let judge: JudgeOutcome | null = null;
  if (o.judge) {
    const scores = new Map<number, { score: number | null; reason: string }>();
    const sink: JudgeSink = { setJudge: (id, score, reason) => scores.set(id, { score, reason }), recordJudgeRequest: () => {} };
    const targets = candidates.flatMap((c, i) => (verdicts[i]!.status === 'kept' ? [{ id: i + 1, instruction: c.instruction, input: c.input, output: c.output }] : []));
    const { promptName, ...rest } = o.judge;
    judge = await judgeItems(targets, { ...rest, prompt: loadJudgePrompt(promptName, lang), lang, sink });
    for (const [id, s] of scores) candidates[id - 1]!.judgeScore = s.score;
    // Judging never changes the duplicate picture (see curateItems), so this only applies the score threshold.
    verdicts = run();
  }
  const kept: Sample[] = samples.filter((_, i) => verdicts[i]!.status === 'kept');
  const written: string[] = [];
  const out = { ...(o.stdout ? { stdout: o.stdout } : {}) };
  writeSamples(o.outPath, kept, formatForPath(o.outPath), { ...out, label: '--out' });
  written.push(o.outPath);
  if (o.rejectedPath) {
    writeOutput(o.rejectedPath, rejectedJsonl(samples, verdicts, candidates.map((c) => c.judgeScore)), { ...out, label: '--rejected' });
    written.push(o.rejectedPath);
  }
  const counts = countVerdicts(verdicts);
  let report: DatasetReport | null = null;
  if (o.reportPath) {
    // The report's verb analysis loads an NLP tagger (about a second): only when a report is asked for.
    const { buildDatasetReport } = await import('./report.js');
    report = buildDatasetReport(kept, { lang, curation: counts, dedup: dedupReport(verdicts), contamination: o.contamination?.table() ?? null });
    written.push(...writeMarkdownReport(o.reportPath, report, { title: 'Curation report', source: o.inPath }));
  }
  return { lang, counts, kept: kept.length, written, judge, report, contamination: o.contamination?.table() ?? null };
}

function rejectedJsonl(samples: Sample[], verdicts: CurationVerdict[], scores: Array<number | null>): string {
  const lines: string[] = [];
  verdicts.forEach((v, i) => {
    if (v.status === 'kept') return;
    const s = samples[i]!;
    lines.push(
      JSON.stringify({
        record: i + 1,
        status: v.status,
        reason: v.reason,
        detail: v.detail,
        duplicateOf: v.duplicateOf,
        similarity: v.similarity,
        judgeScore: scores[i] ?? null,
        instruction: s.instruction,
        input: s.input,
        output: s.output,
      }),
    );
  });
  return lines.length ? `${lines.join('\n')}\n` : '';
}
