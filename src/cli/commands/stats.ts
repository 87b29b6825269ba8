import type { Command, CommandContext } from '../command.js';
import { flagBool, flagString } from '../flags.js';
import { UsageError } from '../../errors.js';
import { langSchema, type Lang } from '../../data/sample.js';
import { assertNotInput } from '../../io/write-output.js';

const usage = `usage: alpaca-forge stats --run output/NAME [--report FILE.md] [--json]
       alpaca-forge stats --in data.json|data.jsonl [--lang en|zh] [--report FILE.md] [--json]

For a run: counts by status, reason and review decision, requests, tokens, cost and elapsed time, then the
dataset report of its kept samples. For a file: the dataset report. The dataset report gives length
distributions of instruction, input and output, the share with input, and the most common root verbs of
instructions with their direct objects (as in the Self-Instruct and Alpaca papers).

  --run DIR          a run made by \`alpaca-forge generate\`
  --in FILE          an Alpaca dataset (JSON array or JSONL)
  --lang en|zh       language of a file (default: detected)
  --report FILE.md   write a Markdown report with SVG charts beside it (missing folders are created)
  --json             print one JSON object instead of text`;

export const command: Command = {
  name: 'stats',
  summary: 'counts, tokens, cost and dataset report of a run or file',
  usage,
  options: {
    run: { type: 'string' },
    in: { type: 'string' },
    lang: { type: 'string' },
    report: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const runDir = flagString(ctx.values, 'run');
    const inPath = flagString(ctx.values, 'in');
    if ((runDir === undefined) === (inPath === undefined)) throw new UsageError('stats needs either --run DIR or --in FILE (and not both)', 'see `alpaca-forge stats --help`');
    const langFlag = flagString(ctx.values, 'lang');
    const lang = langFlag === undefined ? undefined : langSchema.safeParse(langFlag);
    if (lang?.success === false) throw new UsageError(`--lang expects ${langSchema.options.join(' or ')}, got "${langFlag}"`);
    return runDir !== undefined ? runStats(ctx, runDir) : fileStats(ctx, inPath!, lang?.data);
  },
};

async function runStats(ctx: CommandContext, runDir: string): Promise<number> {
  const { RunStore } = await import('../../store/run-store.js');
  const { ResponseStore } = await import('../../store/responses.js');
  const { buildDatasetReport } = await import('../../curate/report.js');
  const { reportLines, runSummaryLines, writeMarkdownReport } = await import('../../curate/report-render.js');
  const store = RunStore.open(runDir);
  try {
    const reportPath = flagString(ctx.values, 'report');
    if (reportPath !== undefined) store.assertNotRunFile({ path: reportPath, label: '--report' });
    const summary = store.summary();
    const responses = new ResponseStore(store).counts();
    const kept = store.listItems({ status: ['kept'] });
    const total = Object.values(summary.byStatus).reduce((a, b) => a + b, 0);
    const { dedupReport } = await import('../../curate/dedup-report.js');
    // Removals per duplicate method with their similarity histograms (rouge, minhash, semantic, exact).
    const dedup = dedupReport(store.duplicateRemovals());
    const report = buildDatasetReport(kept, { lang: summary.lang, curation: { total, byStatus: summary.byStatus, byReason: summary.byReason }, dedup });
    const endpoints = store.endpointTallies();
    const batches = store.batches();
    const { evolRoundGrowth, roundGrowthLines, roundGrowthMarkdown } = await import('../../curate/round-growth.js');
    const { ProvenanceStore } = await import('../../store/provenance-store.js');
    const evolRounds = evolRoundGrowth(new ProvenanceStore(store));
    emit(ctx, { run: runDir, summary, responses, endpoints, batches, report, ...(evolRounds.length ? { evolRounds } : {}) }, () => [
      ...runSummaryLines(summary, responses),
      ...endpointLines(endpoints),
      ...roundGrowthLines(evolRounds),
      ...(batches.length ? [`batch rounds: ${batches.length} (${batches.map((b) => `${b.round}: ${b.batchId ?? b.inputPath} ${b.status}${b.ingestedAt ? '' : ', waiting'}`).join('; ')})`] : []),
      '',
      `kept samples of ${runDir}:`,
      ...reportLines({ ...report, curation: null }),
    ]);
    writeReport(ctx, writeMarkdownReport, report, { title: `Run report: ${runDir}`, run: summary, responses, source: runDir, sections: roundGrowthMarkdown(evolRounds) });
    return 0;
  } finally {
    store.close();
  }
}

async function fileStats(ctx: CommandContext, path: string, lang: Lang | undefined): Promise<number> {
  const { readAlpacaFile } = await import('../../data/alpaca-file.js');
  const [{ buildDatasetReport }, { detectLang }] = await Promise.all([import('../../curate/report.js'), import('../../data/sample.js')]);
  const { reportLines, writeMarkdownReport } = await import('../../curate/report-render.js');
  const samples = readAlpacaFile(path);
  const report = buildDatasetReport(samples, { lang: lang ?? detectLang(samples) });
  emit(ctx, { file: path, report }, () => [`${path} (${report.lang}):`, ...reportLines(report)]);
  writeReport(ctx, writeMarkdownReport, report, { title: `Dataset report: ${path}`, source: path });
  return 0;
}

/** Throughput and errors per endpoint, for a run that used several (or recorded which one answered). */
function endpointLines(tallies: import('../../store/run-store.js').EndpointTally[]): string[] {
  if (tallies.length === 0) return [];
  return [
    'requests by endpoint:',
    ...tallies.map((t) => {
      const rate = t.elapsedMs > 0 ? `${((1000 * t.ok) / t.elapsedMs).toFixed(2)} req/s` : '- req/s';
      const errors = t.ok + t.failed > 0 ? ((100 * t.failed) / (t.ok + t.failed)).toFixed(1) : '0.0';
      return `  ${t.endpoint} (${t.model}): ${t.ok} ok, ${t.failed} failed (${errors}%), ${rate}, ${t.promptTokens + t.completionTokens} tokens, $${t.costUsd.toFixed(4)}`;
    }),
  ];
}

function emit(ctx: CommandContext, json: object, text: () => string[]): void {
  if (flagBool(ctx.values, 'json')) ctx.out(JSON.stringify(json));
  else for (const l of text()) ctx.out(l);
}

function writeReport(
  ctx: CommandContext,
  write: typeof import('../../curate/report-render.js').writeMarkdownReport,
  report: Parameters<typeof import('../../curate/report-render.js').writeMarkdownReport>[1],
  opts: Parameters<typeof import('../../curate/report-render.js').writeMarkdownReport>[2],
): void {
  const path = flagString(ctx.values, 'report');
  if (path === undefined) return;
  const input = flagString(ctx.values, 'in');
  if (input !== undefined) assertNotInput({ path, label: '--report' }, [{ path: input, label: '--in' }]);
  const files = write(path, report, opts);
  ctx.err(`report: ${files[files.length - 1]} (+${files.length - 1} charts)`);
}
