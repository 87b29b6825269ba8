import { join } from 'node:path';
import type { ForgeConfig } from '../config/schema.js';
import type { GenerationConfig } from '../config/generation.js';
import { ConfigError } from '../errors.js';
import type { GenerateEvent } from '../events.js';
import { seedsDir } from '../paths.js';
import { acquireRunLock } from '../store/run-lock.js';
import { RunStore } from '../store/run-store.js';
import { ExampleSampler } from './example-sampler.js';
import { IngestPipeline } from './ingest-pipeline.js';
import { loadPromptTemplate } from './prompt-template.js';
import { seededRandom } from '../random.js';
import { loadSeedTasks } from '../data/seed-tasks.js';
import { resolveRunSettings, type RunSetting } from './run-settings.js';
import type { Lang } from '../data/sample.js';
import { runBatchRounds, type BatchAction } from './batch-rounds.js';
import { selfInstruct, type GenerationOutcome } from './generation-method.js';
import { selfInstructJobs } from './generation-jobs.js';
import { generateOnline } from './online-generation.js';
import type { MethodRunOptions } from './methods/start-method-run.js';

export interface RunGenerationOptions extends MethodRunOptions {
  /** Settings a resume may change (recorded in the run's history); any other change is refused. Defaults to none. */
  allowChange?: ReadonlySet<RunSetting>;
}

export type { GenerationOutcome };

export function defaultSeedsPath(lang: Lang): string {
  return join(seedsDir(), lang === 'zh' ? 'seed_tasks.zh.jsonl' : 'seed_tasks.jsonl');
}

function settingsOf(runDir: string, g: GenerationConfig, meta: Pick<RunStore, 'getMeta'>, allowChange: ReadonlySet<RunSetting> | undefined) {
  return resolveRunSettings(meta, runDir, { seeds: g.seeds, model: g.model, template: g.template, lang: g.lang }, { allowChange: allowChange ?? new Set(), defaultSeeds: defaultSeedsPath });
}

/**
 * Checks a resume's settings against the run's and records the changes `allowChange` permits, without generating:
 * for callers that start generation somewhere `allowChange` cannot reach (the terminal UI), so a refusal is reported
 * before it opens. Returns notes to show the user. Nothing happens for a run that does not exist yet.
 */
export function reconcileRunSettings(runDir: string, config: ForgeConfig, allowChange: ReadonlySet<RunSetting>): string[] {
  if (!RunStore.exists(runDir)) return [];
  const store = RunStore.open(runDir);
  let release: (() => void) | undefined;
  try {
    release = acquireRunLock(runDir);
    const settings = settingsOf(runDir, config.generation, store, allowChange);
    loadSeedTasks(settings.seedsPath);
    if (store.getMeta('created_at') !== undefined) store.recordSettings(settings.meta, settings.changes);
    return settings.notes;
  } finally {
    release?.();
    store.close();
  }
}

/**
 * Generates until the run holds `target` kept samples. Re-running resumes: kept items are reloaded into the
 * duplicate index and example pool, and requests left in flight by a killed process are marked abandoned.
 */
export async function runGeneration(opts: RunGenerationOptions): Promise<GenerationOutcome> {
  const g = opts.config.generation;
  const lang = g.lang;
  if (g.budgetUsd !== null && !opts.config.prices[g.model]) {
    throw new ConfigError([`generation.budgetUsd is set but prices has no entry for model "${g.model}", so spending cannot be measured`], `add prices.${g.model}: {input: USD per 1M tokens, output: USD per 1M tokens} to forge.yaml`);
  }
  const methods = await import('./methods/start-method-run.js');
  methods.checkRunMethod(opts.runDir, g);
  // Evol-Instruct and Magpie bring their own requests; they share the request loop, batch rounds, writer thread and curation.
  if (g.method !== 'self-instruct') return methods.startMethodRun(opts);
  const prepare = (meta: Pick<RunStore, 'getMeta'>) => {
    const settings = settingsOf(opts.runDir, g, meta, opts.allowChange);
    return { settings, seeds: loadSeedTasks(settings.seedsPath), template: loadPromptTemplate(g.template, lang) };
  };
  // A new run is checked before its directory exists, so a bad --seeds or --template leaves nothing behind.
  if (!RunStore.exists(opts.runDir)) prepare({ getMeta: () => undefined });

  const store = RunStore.open(opts.runDir, { create: true });
  let release: (() => void) | undefined;
  try {
    release = acquireRunLock(opts.runDir);
    const { settings, seeds, template } = prepare(store);
    store.recordSettings(settings.meta, settings.changes);
    for (const message of settings.notes) opts.onEvent({ type: 'warning', message });
    return await generate(store, g, opts, seeds, template);
  } finally {
    release?.();
    store.close();
  }
}

async function generate(
  store: RunStore,
  g: GenerationConfig,
  opts: RunGenerationOptions,
  seeds: ReturnType<typeof loadSeedTasks>,
  template: ReturnType<typeof loadPromptTemplate>,
): Promise<GenerationOutcome> {
  const resumed = store.getMeta('created_at') !== undefined;
  if (!resumed) store.setMeta('created_at', new Date().toISOString());
  // The snapshot holds the variable's *name* (apiKeyEnv), never the key.
  store.setMeta('config', JSON.stringify({ generation: g, prices: opts.config.prices }));
  store.setMeta('target', String(g.target));
  store.setMeta('template_file', template.file);
  store.setMeta('template_format', template.format);
  store.setMeta('template_text', template.body);
  const abandoned = store.abandonInFlight();

  const random = g.seed === null ? Math.random : seededRandom(g.seed * 7919 + store.summary().requests.total);
  const sampler = new ExampleSampler(seeds, { numExamples: g.numExamples, machineShare: g.machineExampleShare, machineAfter: g.machineExamplesAfter, random });
  const keptRows = store.keptTexts();
  for (const k of keptRows) sampler.addKept(k.id, k);
  const method = selfInstruct(template, sampler, g.numTasks);
  const elapsedBefore = Number(store.getMeta('elapsed_ms') ?? 0);
  const ingest = IngestPipeline.start({
    runDir: opts.runDir,
    config: opts.config,
    lang: g.lang,
    target: g.target,
    seeds: seeds.map((s) => ({ id: `seed:${s.id}`, instruction: s.instruction, input: s.instances[0]!.input })),
  });

  const kept = keptRows.length;
  const batchAction: BatchAction | null = opts.batch ?? (g.mode === 'batch' ? { kind: 'api', cancel: false } : null);
  if (!batchAction) {
    return generateOnline({ g, opts, jobs: selfInstructJobs(method), ingest, templateName: template.name, kept, resumed, abandoned, nextRequestId: store.nextRequestId(), spentBefore: store.spentUsd(), elapsedBefore });
  }
  const batchStarted = Date.now();
  try {
    return await runBatchRounds({
      store,
      runDir: opts.runDir,
      g,
      config: opts.config,
      apiKey: opts.apiKey,
      signal: opts.signal,
      emit: opts.onEvent,
      templateName: template.name,
      jobs: selfInstructJobs(method),
      ingest,
      kept,
      resumed,
      abandoned,
      action: batchAction,
      ...(opts.batchApi ? { api: opts.batchApi } : {}),
    });
  } finally {
    ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(elapsedBefore + Date.now() - batchStarted) });
    await ingest.close();
  }
}
