import type { Command, CommandContext } from '../command.js';
import type { ForgeConfig } from '../../config/schema.js';
import type { CurationConfig, JudgeConfig } from '../../config/curation.js';
import type { JudgeOutcome, JudgeRunOptions } from '../../curate/judge.js';
import type { ContaminationIndex } from '../../curate/contamination-index.js';
import type { EmbedSetup } from '../embeddings-setup.js';
import { configOption, readConfig } from '../config-flags.js';
import { flagBool, flagList, flagNumber, flagString } from '../flags.js';
import { UsageError, exitCodeFor } from '../../errors.js';
import { langSchema, type Lang } from '../../data/sample.js';
import { rankWithRewardModel } from '../reward-model-ranking.js';

const usage = `usage: alpaca-forge curate --run output/NAME [options]
       alpaca-forge curate --in data.json|data.jsonl --out curated.json [options]

Re-evaluates every item of a run with the current settings (rule filters, exact and ROUGE-L near-duplicates,
judge threshold), or curates any Alpaca-format dataset and writes its kept items. Changing a setting and running
again recomputes the statuses; nothing is deleted and review decisions are never changed.

  --run DIR              a run made by \`alpaca-forge generate\`
  --in FILE --out FILE   an Alpaca dataset (JSON array or JSONL) and where its kept items go (.jsonl → JSONL;
                         - for stdout, as an Alpaca JSON array; the summary then goes to stderr)
  --config FILE          forge.yaml (sections curation: and judge:; default ./forge.yaml if present)
  --dedup LIST           near-duplicate methods, comma-separated: rouge (default; exact ROUGE-L F1 as Alpaca),
                         minhash (MinHash-LSH over word 2-grams, character 2-grams for Chinese; for large sets),
                         semantic (cosine of embeddings from an OpenAI-compatible /v1/embeddings), or none.
                         Exact duplicates (same normalised instruction and input) are always removed
  --rouge-threshold T    near-duplicate when ROUGE-L F1 with an earlier item is above T (default 0.7)
  --minhash-threshold J  near-duplicate when the Jaccard similarity of shingles is at least J (default 0.8)
  --keep RULE            which copy of a duplicate survives: first (default), judge (best judge score), longest,
                         or ifd (highest IFD; needs --scores FILE from \`alpaca-forge score --ifd\`, with --in)
  --scores FILE          with --keep ifd: the JSONL written by \`alpaca-forge score --ifd\` for the --in file
  --rules LIST           only these rules, comma-separated, or all / none (see below)
  --lang en|zh           language (default: the run's; detected for a file)
  --seeds FILE           seed tasks to deduplicate against (default: the run's seeds; none for a file)
  --semantic-threshold C with --dedup semantic: a paraphrase when the cosine of embeddings is at least C (0.9)
  --embedding-model M    with --dedup semantic: model of the /v1/embeddings endpoint (--base-url, else
                         generation.baseUrl, else $OPENAI_BASE_URL; several --base-url or generation.endpoints
                         serving M make a pool); vectors are cached in run.db
  --embedding-cache FILE with --in: SQLite file caching the vectors between runs (default: none)
  --decontaminate FILES  benchmark test sets (JSON, JSONL, CSV or Parquet; comma-separated or repeated): a sample
                         sharing a word n-gram (character n-gram for Chinese) of its instruction, input or
                         output with a benchmark item is rejected (reason "contamination"), naming the file,
                         item and span
  --bench-fields LIST    the benchmark fields holding text (default: every text field of each item)
  --ngram N              n-gram width for --decontaminate (default 13)
  --overlap F            remove only samples sharing at least this share of their n-grams (default: any one)
  --report FILE.md       Markdown report with SVG charts written beside it
  --rejected FILE.jsonl  with --in: every item not kept, with its status and reason
Output files: missing parent folders are created; a symlink is written through to its target; an existing
file is replaced atomically; the input itself is refused as an output.
  --judge                rate kept samples 0-5 with an LLM for accuracy and helpfulness (prompts/judge.LANG.md)
  --judge-model M        judge model (default judge.model, else generation.model)
  --min-score X          reject samples the judge scored below X (reason "judge"); works without --judge on
                         scores already recorded
  --judge-concurrency N  parallel judge requests (default 8)
  --judge-budget-usd X   stop judging before spending more than X USD (needs a price for the model in forge.yaml)
  --rejudge              judge again samples that already have a score
  --rank                 rate each candidate response (from \`respond\`) 1-10 for helpfulness, honesty and
                         instruction following (prompts/rank.LANG.md) and order each sample's responses by the
                         mean; equal means are ties. The judge flags above apply; --rejudge rates them again
  --reward-model DIR     rank each sample's candidate responses by a reward model from \`train --method rm\`
                         instead of an LLM judge (local and offline; recorded as the judge's ranking);
                         its base model is the one in DIR/adapter_config.json unless --model DIR is given
  --base-url URL         judge endpoint (default generation.endpoints, else generation.baseUrl, else
                         $OPENAI_BASE_URL); give it several times for a pool
  --json                 print the outcome as one JSON object

Rules: control-chars, wrong-language, instruction-length, leading-punctuation, leading-non-ascii, merged-tasks,
blacklist, program-task, placeholder-input, empty-output, refusal, copied-output.
The API key is read from $OPENAI_API_KEY (or the variable named by generation.apiKeyEnv); it is never stored.`;

export const command: Command = {
  name: 'curate',
  summary: 'filter, deduplicate and judge a run or a dataset file',
  usage,
  options: {
    ...configOption,
    run: { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
    'rouge-threshold': { type: 'string' },
    dedup: { type: 'string' },
    'minhash-threshold': { type: 'string' },
    keep: { type: 'string' },
    scores: { type: 'string' },
    decontaminate: { type: 'string', multiple: true },
    'semantic-threshold': { type: 'string' },
    'embedding-model': { type: 'string' },
    'embedding-cache': { type: 'string' },
    'bench-fields': { type: 'string' },
    ngram: { type: 'string' },
    overlap: { type: 'string' },
    rules: { type: 'string' },
    lang: { type: 'string' },
    seeds: { type: 'string' },
    report: { type: 'string' },
    rejected: { type: 'string' },
    judge: { type: 'boolean' },
    'judge-model': { type: 'string' },
    'min-score': { type: 'string' },
    'judge-concurrency': { type: 'string' },
    'judge-budget-usd': { type: 'string' },
    rejudge: { type: 'boolean' },
    rank: { type: 'boolean' },
    'reward-model': { type: 'string' },
    model: { type: 'string' },
    'base-url': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const runDir = flagString(ctx.values, 'run');
    const inPath = flagString(ctx.values, 'in');
    if ((runDir === undefined) === (inPath === undefined)) throw new UsageError('curate needs either --run DIR or --in FILE (and not both)', 'see `alpaca-forge curate --help`');
    if (inPath !== undefined && flagString(ctx.values, 'out') === undefined) throw new UsageError('--in needs --out FILE for the kept items', 'e.g. --out curated.json');
    if (runDir !== undefined && (flagString(ctx.values, 'out') !== undefined || flagString(ctx.values, 'rejected') !== undefined)) {
      throw new UsageError('--out and --rejected are for --in files; a run keeps every item with its status', 'use `alpaca-forge export --run DIR` to write a run\'s samples');
    }
    if (inPath !== undefined && flagBool(ctx.values, 'rank')) throw new UsageError('--rank ranks the candidate responses of a run', 'use --run DIR after `alpaca-forge respond --run DIR --responses K`');
    const rewardModel = flagString(ctx.values, 'reward-model');
    if (rewardModel !== undefined) return rankWithRewardModel(ctx, runDir, rewardModel);
    if (flagString(ctx.values, 'model') !== undefined) throw new UsageError('--model is the base of --reward-model', 'add --reward-model DIR, or drop --model');
    const { isStdoutPath } = await import('../../io/write-output.js');
    const [out, rejected] = [flagString(ctx.values, 'out'), flagString(ctx.values, 'rejected')];
    if (out !== undefined && rejected !== undefined && isStdoutPath(out) && isStdoutPath(rejected)) {
      throw new UsageError('--out and --rejected would both go to stdout', 'send one of them to a file');
    }
    return runCurate(ctx, settingsFromFlags(ctx));
  },
};

interface CurateFlags {
  runDir: string | undefined;
  inPath: string | undefined;
  outPath: string | undefined;
  rougeThreshold: number | undefined;
  dedup: string[] | undefined;
  minhashThreshold: number | undefined;
  keep: string | undefined;
  scores: string | undefined;
  decontaminate: string[];
  semanticThreshold: number | undefined;
  embeddingModel: string | undefined;
  embeddingCache: string | undefined;
  benchFields: string[] | undefined;
  ngram: number;
  overlap: number | undefined;
  rules: string[] | undefined;
  lang: Lang | undefined;
  seeds: string | undefined;
  report: string | undefined;
  rejected: string | undefined;
  judge: boolean;
  judgeModel: string | undefined;
  minScore: number | undefined;
  judgeConcurrency: number | undefined;
  judgeBudgetUsd: number | undefined;
  rejudge: boolean;
  rank: boolean;
  baseUrl: string[] | undefined;
  json: boolean;
  config: ReturnType<typeof readConfig>;
}

function settingsFromFlags(ctx: CommandContext): CurateFlags {
  const v = ctx.values;
  const langFlag = flagString(v, 'lang');
  const lang = langFlag === undefined ? undefined : langSchema.safeParse(langFlag);
  if (lang?.success === false) throw new UsageError(`--lang expects ${langSchema.options.join(' or ')}, got "${langFlag}"`);
  return {
    runDir: flagString(v, 'run'),
    inPath: flagString(v, 'in'),
    outPath: flagString(v, 'out'),
    rougeThreshold: flagNumber(v, 'rouge-threshold', { min: 0, max: 1 }),
    dedup: flagList(v, 'dedup'),
    minhashThreshold: flagNumber(v, 'minhash-threshold', { min: 0, max: 1 }),
    keep: flagString(v, 'keep'),
    scores: flagString(v, 'scores'),
    decontaminate: v['decontaminate'] === undefined ? [] : ([v['decontaminate']].flat() as string[]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean),
    benchFields: flagList(v, 'bench-fields'),
    semanticThreshold: flagNumber(v, 'semantic-threshold', { min: -1, max: 1 }),
    embeddingModel: flagString(v, 'embedding-model'),
    embeddingCache: flagString(v, 'embedding-cache'),
    ngram: flagNumber(v, 'ngram', { integer: true, min: 1, max: 64 }) ?? 13,
    overlap: flagNumber(v, 'overlap', { min: 0, max: 1 }),
    rules: flagList(v, 'rules'),
    lang: lang?.data,
    seeds: flagString(v, 'seeds'),
    report: flagString(v, 'report'),
    rejected: flagString(v, 'rejected'),
    judge: flagBool(v, 'judge'),
    judgeModel: flagString(v, 'judge-model'),
    minScore: flagNumber(v, 'min-score', { min: 0, max: 5 }),
    judgeConcurrency: flagNumber(v, 'judge-concurrency', { integer: true, min: 1 }),
    judgeBudgetUsd: flagNumber(v, 'judge-budget-usd', { min: 0 }),
    rejudge: flagBool(v, 'rejudge'),
    rank: flagBool(v, 'rank'),
    baseUrl: v['base-url'] === undefined ? undefined : ([v['base-url']].flat() as string[]),
    json: flagBool(v, 'json'),
    config: readConfig(ctx),
  };
}

async function runCurate(ctx: CommandContext, f: CurateFlags): Promise<number> {
  const { curationSettings, overrideCuration, overrideJudge } = await import('../../curate/settings.js');
  const { selectRules } = await import('../../curate/rules.js');
  const forge = f.config.config;
  const base = curationSettings(forge);
  const { dedupMethodFlags } = await import('../../curate/dedup-methods.js');
  let curation = overrideCuration(base.curation, {
    rougeThreshold: f.rougeThreshold,
    minhashThreshold: f.minhashThreshold,
    semanticThreshold: f.semanticThreshold,
    embeddingModel: f.embeddingModel,
    keep: f.keep as CurationConfig['dedup']['keep'] | undefined,
    ...(f.dedup ? dedupMethodFlags(f.dedup) : {}),
  });
  if (curation.dedup.keep === 'ifd' && (f.inPath === undefined || f.scores === undefined)) {
    throw new UsageError('--keep ifd needs --in FILE and --scores FILE (IFD per record)', 'run `alpaca-forge score --model DIR --data FILE --out scores.jsonl --ifd` first');
  }
  if (f.rules) curation = selectRules(curation, f.rules);
  const judgeCfg = overrideJudge(base.judge, {
    model: f.judgeModel,
    minScore: f.minScore,
    concurrency: f.judgeConcurrency,
    budgetUsd: f.judgeBudgetUsd,
    ...(f.rejudge ? { rejudge: true } : {}),
  });
  const say = (line: string) => {
    if (!f.json) ctx.err(line);
  };
  const judgeOptions = f.judge || f.rank ? await judgeClientOptions(ctx, forge, judgeCfg, f.baseUrl, say) : null;
  let contamination: ContaminationIndex | null = null;
  if (f.decontaminate.length) {
    const { loadContamination } = await import('../../curate/contamination-index.js');
    contamination = await loadContamination(f.decontaminate, { fields: f.benchFields ?? null, ngram: f.ngram, overlap: f.overlap ?? null });
  }
  const { embeddingsSetup } = await import('../embeddings-setup.js');
  const embed = curation.dedup.semantic ? await embeddingsSetup(ctx, forge, curation.dedup.embeddingModel, f.baseUrl, say) : null;
  const plan: CuratePlan = { ctx, f, curation, judgeCfg, judge: judgeOptions, contamination, embed, say };
  return f.runDir !== undefined ? curateRunCommand(plan, f.runDir) : curateFileCommand(plan);
}

/** What both forms of the command (a run, a file) work from once the flags and forge.yaml are read. */
interface CuratePlan {
  ctx: CommandContext;
  f: CurateFlags;
  curation: CurationConfig;
  judgeCfg: JudgeConfig;
  judge: JudgeOptions | null;
  contamination: ContaminationIndex | null;
  embed: EmbedSetup | null;
  say: (l: string) => void;
}

type JudgeOptions = Omit<JudgeRunOptions, 'sink' | 'lang' | 'prompt'> & { promptName: string };

async function judgeClientOptions(ctx: CommandContext, forge: ForgeConfig, cfg: JudgeConfig, baseUrlFlag: string[] | undefined, say: (l: string) => void): Promise<JudgeOptions> {
  const { createJudgeClient } = await import('../../curate/judge.js');
  const { baseUrlFlags } = await import('../base-url-flags.js');
  // --base-url (several: a pool), else forge.yaml's endpoints (a pool), else its baseUrl, else $OPENAI_BASE_URL:
  // as generate and respond. Several --base-url name no model, so each serves the judge's.
  const where = baseUrlFlags({ 'base-url': baseUrlFlag }, forge.generation, ctx.env);
  const judgeModel = cfg.model ?? forge.generation.model;
  const g = { ...forge.generation, ...where, endpoints: (baseUrlFlag?.length ?? 0) > 1 ? where.endpoints.map((e) => ({ ...e, model: judgeModel })) : where.endpoints };
  const client = createJudgeClient({ ...forge, generation: g }, cfg, {
    apiKey: ctx.env[g.apiKeyEnv] || undefined,
    apiKeyFor: (name) => ctx.env[name] || undefined,
    onTransport: (t) => {
      if (t.state === 'backoff') say(`judge: ${t.reason}; retrying in ${(t.waitMs / 1000).toFixed(1)} s (attempt ${t.attempt})`);
      else if (t.state === 'paused') say(`judge: endpoint paused for ${(t.waitMs / 1000).toFixed(1)} s: ${t.reason}`);
    },
    onWarning: (message) => say(`warning: ${message}`),
  });
  let last = 0;
  return {
    client,
    cfg,
    prices: forge.prices,
    signal: ctx.signal,
    promptName: cfg.prompt,
    onProgress: (p) => {
      const now = Date.now();
      if (now - last < 2000 && p.done !== p.total) return;
      last = now;
      say(`judge: ${p.done}/${p.total} (${p.scored} scored, ${p.failed} failed), $${p.costUsd.toFixed(4)}`);
    },
  };
}

function judgeExitCode(o: JudgeOutcome | null): number {
  if (!o) return 0;
  if (o.stop === 'interrupted') return exitCodeFor('interrupted');
  // Not one rating came back (a judge that answers garbage, a request refused every time): no success.
  if (o.stop === 'endpoint-down' || (o.scored === 0 && o.failed > 0)) return exitCodeFor('api');
  return 0;
}

async function curateRunCommand(plan: CuratePlan, runDir: string): Promise<number> {
  const { ctx, f, curation, judgeCfg, judge, contamination, embed, say } = plan;
  const { RunStore } = await import('../../store/run-store.js');
  const { recurateRun, judgeRun, runLang } = await import('../../curate/curate-run.js');
  const { loadJudgePrompt } = await import('../../curate/judge.js');
  const { rankRun } = await import('../../respond/rank-responses.js');
  const { acquireRunLock } = await import('../../store/run-lock.js');
  const store = RunStore.open(runDir);
  let release: (() => void) | undefined;
  try {
    // Re-curation, judging and ranking write the run: not while generate or respond does.
    release = acquireRunLock(runDir);
    const lang = f.lang ?? runLang(store);
    const opts = { lang, minJudgeScore: judgeCfg.minScore, contamination, ...(f.seeds !== undefined ? { seedsPath: f.seeds } : {}) };
    const t0 = Date.now();
    if (embed) {
      const { EmbeddingCache } = await import('../../store/embedding-cache.js');
      const { semanticMapForRun } = await import('../../curate/curate-run.js');
      const semantic = await semanticMapForRun(store, curation, opts, embed.embedWith(new EmbeddingCache(store.connection, store.path), { spentUsd: store.spentUsd(), record: (r) => store.recordEmbeddingsRequest(r) }));
      Object.assign(opts, { semantic });
    }
    let result = recurateRun(store, curation, opts);
    say(`re-curated ${result.total} items in ${((Date.now() - t0) / 1000).toFixed(1)} s (${result.seeds} seeds, ${lang}): ${result.changed} changed`);
    let judged: JudgeOutcome | null = null;
    if (judge && f.judge) {
      const { promptName, ...rest } = judge;
      judged = await judgeRun(store, { ...rest, lang, prompt: loadJudgePrompt(promptName, lang) });
      say(judged.message);
      // New scores only matter through the threshold; re-curating applies it the same way as any other setting.
      const again = recurateRun(store, curation, opts);
      result = { ...again, changed: result.changed + again.changed };
    }
    let ranked: Awaited<ReturnType<typeof rankRun>> | null = null;
    if (judge && f.rank) {
      const { promptName: _judgePrompt, ...rest } = judge;
      ranked = await rankRun(store, { ...rest, lang, prompt: loadJudgePrompt('rank', lang) });
      say(`rank: ${ranked.judge.message}`);
      say(`rank: ${ranked.ranked} samples ordered by the judge (${ranked.withTies} with ties)${ranked.incomplete ? `, ${ranked.incomplete} with a response not rated yet` : ''}`);
    }
    const summary = store.summary();
    if (f.report) {
      const { buildDatasetReport } = await import('../../curate/report.js');
      const { writeMarkdownReport } = await import('../../curate/report-render.js');
      const kept = store.listItems({ status: ['kept'] });
      const { dedupReport } = await import('../../curate/dedup-report.js');
      const report = buildDatasetReport(kept, { lang, curation: result.after, dedup: dedupReport(store.listItems()), contamination: contamination?.table() ?? null });
      const files = writeMarkdownReport(f.report, report, { title: `Curation report: ${runDir}`, run: summary, source: runDir });
      say(`report: ${files[files.length - 1]} (+${files.length - 1} charts)`);
    }
    if (f.json) {
      ctx.out(JSON.stringify({ run: runDir, lang, total: result.total, changed: result.changed, before: result.before, after: result.after, judge: judged, ...(ranked ? { rank: ranked } : {}), ...(contamination ? { contamination: contamination.table() } : {}) }));
    } else {
      ctx.out(`${runDir}: ${formatCounts(result.after.byStatus)} (was ${formatCounts(result.before)})`);
      const reasons = formatCounts(result.after.byReason);
      if (reasons) ctx.out(`reasons: ${reasons}`);
      if (contamination) for (const line of contaminationLines(contamination)) ctx.out(line);
    }
    return judgeExitCode(judged) || judgeExitCode(ranked?.judge ?? null);
  } finally {
    release?.();
    store.close();
  }
}

async function curateFileCommand(plan: CuratePlan): Promise<number> {
  const { ctx, f, curation, judgeCfg, judge, contamination, embed, say } = plan;
  const { curateFile } = await import('../../curate/curate-file.js');
  const { readIfdScores } = await import('../../curate/ifd-scores.js');
  const t0 = Date.now();
  const { EmbeddingCache } = await import('../../store/embedding-cache.js');
  const cacheFile = embed && f.embeddingCache !== undefined ? EmbeddingCache.openFile(f.embeddingCache) : null;
  const r = await curateFile({
    embed: embed ? embed.embedWith(cacheFile?.cache ?? null) : null,
    inPath: f.inPath!,
    outPath: f.outPath!,
    cfg: curation,
    ...(f.lang ? { lang: f.lang } : {}),
    seedsPath: f.seeds ?? null,
    reportPath: f.report ?? null,
    rejectedPath: f.rejected ?? null,
    judge,
    minJudgeScore: judgeCfg.minScore,
    ifd: f.scores !== undefined ? readIfdScores(f.scores) : null,
    contamination,
    stdout: ctx.write,
  });
  cacheFile?.close();
  if (r.judge) say(r.judge.message);
  // With a dataset on stdout (`-`), the outcome goes to stderr so the data stays parseable.
  const { isStdoutPath } = await import('../../io/write-output.js');
  const toStdout = isStdoutPath(f.outPath!) || (f.rejected !== undefined && isStdoutPath(f.rejected));
  const result = toStdout ? ctx.err : ctx.out;
  if (f.json) {
    result(JSON.stringify({ in: f.inPath, out: f.outPath, lang: r.lang, ...r.counts, kept: r.kept, written: r.written, judge: r.judge, ...(r.contamination ? { contamination: r.contamination } : {}) }));
  } else {
    result(`${f.inPath}: ${r.counts.total} items → ${r.kept} kept in ${isStdoutPath(f.outPath!) ? 'stdout' : f.outPath} (${((Date.now() - t0) / 1000).toFixed(1)} s, ${r.lang}); ${formatCounts(r.counts.byStatus)}`);
    const reasons = formatCounts(r.counts.byReason);
    if (reasons) result(`reasons: ${reasons}`);
    if (contamination) for (const line of contaminationLines(contamination)) result(line);
    for (const w of r.written.slice(1)) say(`wrote ${w}`);
  }
  return judgeExitCode(r.judge);
}

function contaminationLines(c: ContaminationIndex): string[] {
  return c.table().map((row) => `contamination: ${row.file}: ${row.itemsHit} of ${row.items} items hit, ${row.samplesRemoved} samples removed`);
}

function formatCounts(c: Record<string, number>): string {
  return Object.entries(c)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}
