import type { ForgeConfig } from '../../config/schema.js';
import type { GenerationConfig } from '../../config/generation.js';
import { ConfigError } from '../../errors.js';
import type { GenerateEvent } from '../../events.js';
import { acquireRunLock } from '../../store/run-lock.js';
import { RunStore } from '../../store/run-store.js';
import { runBatchRounds, type BatchAction } from '../batch-rounds.js';
import type { BatchApi } from '../batch-api.js';
import type { GenerationOutcome } from '../generation-method.js';
import { IngestPipeline } from '../ingest-pipeline.js';
import { generateOnline } from '../online-generation.js';
import { buildMethod, checkMethodSettings } from './build-method.js';
import { stepJobs } from './step-jobs.js';

/** What every generation method is started with; `runGeneration`'s options add what only self-instruct uses. */
export interface MethodRunOptions {
  runDir: string;
  config: ForgeConfig;
  /** From the environment variable named by generation.apiKeyEnv; held in memory only. */
  apiKey?: string | undefined;
  /** The key in an environment variable (an endpoint's apiKeyEnv); held in memory only. Defaults to none. */
  apiKeyFor?: (envName: string) => string | undefined;
  signal: AbortSignal;
  onEvent: (e: GenerateEvent) => void;
  /** Read before each new request: while true, no new request starts (the UI's `p`). */
  pause?: { paused: boolean };
  /** How often a progress event is emitted. Defaults to 1000 ms. */
  progressIntervalMs?: number;
  /**
   * Batch rounds instead of online requests: the Batch API (also chosen by generation.mode: batch), or one round
   * written to / read from a file for an offline engine.
   */
  batch?: BatchAction;
  /** Test hook for batch mode: the Batch API client. */
  batchApi?: BatchApi;
}

/**
 * Refuses a resume whose --method differs from the run's, which would read the run's requests as another method's
 * (an evol batch file ingested as self-instruct's task lists). Self-instruct → evol is allowed: `--from-run` evolves
 * a self-instruct run's own kept items.
 */
export function checkRunMethod(runDir: string, g: GenerationConfig): void {
  if (!RunStore.exists(runDir)) return;
  const store = RunStore.open(runDir);
  let was: string | undefined;
  try {
    if (store.getMeta('created_at') === undefined) return;
    was = store.getMeta('method') ?? 'self-instruct';
  } finally {
    store.close();
  }
  if (was === g.method || (was === 'self-instruct' && g.method === 'evol')) return;
  throw new ConfigError([`${runDir} was made with --method ${was}; this command asks for --method ${g.method}`], `add --method ${was} (with the run's other flags) to resume it, or start a new --run for ${g.method}`);
}

/**
 * Evol-Instruct and Magpie: no seeds or prompt template; the method is rebuilt from the store on resume, and its
 * jobs run through the same driver as self-instruct's (the request loop, the writer thread, the yield floor).
 */
export async function startMethodRun(opts: MethodRunOptions): Promise<GenerationOutcome> {
  const g = opts.config.generation;
  const batch: BatchAction | null = opts.batch ?? (g.mode === 'batch' ? { kind: 'api', cancel: false } : null);
  if (g.method === 'magpie' && batch?.kind === 'api') {
    // A Batch API batch serves one endpoint; OpenAI's /v1/completions takes only its legacy completion models, never
    // a chat model's template, so Magpie's pre-query has nowhere to go there.
    throw new ConfigError(
      ['generate --method magpie cannot use the Batch API (--mode batch): OpenAI\'s Batch API does not serve raw completions for chat models, and Magpie sends a chat template\'s pre-query to /v1/completions'],
      'run it online, or offline with --emit-batch FILE / --ingest-batch FILE through an engine whose batch runner serves /v1/completions (vLLM run_batch)',
    );
  }
  if (g.budgetUsd !== null && !opts.config.prices[g.model]) {
    throw new ConfigError([`generation.budgetUsd is set but prices has no entry for model "${g.model}", so spending cannot be measured`], `add prices.${g.model}: {input: USD per 1M tokens, output: USD per 1M tokens} to forge.yaml`);
  }
  // A new run is checked before its directory exists, so a bad --from or --template leaves nothing behind.
  checkMethodSettings(g);
  const store = RunStore.open(opts.runDir, { create: true });
  let release: (() => void) | undefined;
  try {
    release = acquireRunLock(opts.runDir);
    const resumed = store.getMeta('created_at') !== undefined;
    if (!resumed) {
      store.setMeta('created_at', new Date().toISOString());
      store.setMeta('lang', g.lang);
    }
    store.setMeta('config', JSON.stringify({ generation: g, prices: opts.config.prices }));
    store.setMeta('target', String(g.target));
    store.setMeta('method', g.method);
    const abandoned = store.abandonInFlight();
    const method = buildMethod(store, g);
    const jobs = stepJobs(method, { chatModel: g.method === 'magpie' ? g.magpie.responseModel : null });
    const ingest = IngestPipeline.start({ runDir: opts.runDir, config: opts.config, lang: g.lang, target: g.target, seeds: [] });
    const templateName = g.method === 'magpie' ? g.magpie.template : `evol ${g.evol.operators}`;
    const kept = store.countItems('kept');
    const elapsedBefore = Number(store.getMeta('elapsed_ms') ?? 0);
    const exhaustedMessage = (n: number) => `evol finished its ${g.evol.rounds} rounds: ${n}/${g.target} kept (raise --rounds or give more input to go on)`;
    if (!batch) {
      return await generateOnline({ g, opts, jobs, ingest, templateName, kept, resumed, abandoned, nextRequestId: store.nextRequestId(), spentBefore: store.spentUsd(), elapsedBefore, exhaustedMessage });
    }
    const batchStarted = Date.now();
    try {
      return await runBatchRounds({ store, runDir: opts.runDir, g, config: opts.config, apiKey: opts.apiKey, signal: opts.signal, emit: opts.onEvent, templateName, jobs, ingest, kept, resumed, abandoned, action: batch, exhaustedMessage, ...(opts.batchApi ? { api: opts.batchApi } : {}) });
    } finally {
      ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(elapsedBefore + Date.now() - batchStarted) });
      await ingest.close();
    }
  } finally {
    release?.();
    store.close();
  }
}

