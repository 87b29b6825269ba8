import type { ForgeConfig } from '../../config/schema.js';
import { ConfigError } from '../../errors.js';
import type { GenerateEvent } from '../../events.js';
import { acquireRunLock } from '../../store/run-lock.js';
import { RunStore } from '../../store/run-store.js';
import type { BatchAction } from '../batch-rounds.js';
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
}

/**
 * Evol-Instruct and Magpie: no seeds or prompt template; the method is rebuilt from the store on resume, and its
 * jobs run through the same driver as self-instruct's (the request loop, the writer thread, the yield floor).
 */
export async function startMethodRun(opts: MethodRunOptions): Promise<GenerationOutcome> {
  const g = opts.config.generation;
  if (opts.batch || g.mode === 'batch') {
    throw new ConfigError([`generate --method ${g.method}: batch rounds are not built for this method yet`], 'run it online (without --mode batch, --emit-batch or --ingest-batch)');
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
    return await generateOnline({
      g,
      opts,
      jobs,
      ingest,
      templateName: g.method === 'magpie' ? g.magpie.template : `evol ${g.evol.operators}`,
      kept: store.countItems('kept'),
      resumed,
      abandoned,
      nextRequestId: store.nextRequestId(),
      spentBefore: store.spentUsd(),
      elapsedBefore: Number(store.getMeta('elapsed_ms') ?? 0),
      exhaustedMessage: (kept) => `evol finished its ${g.evol.rounds} rounds: ${kept}/${g.target} kept (raise --rounds or give more input to go on)`,
    });
  } finally {
    release?.();
    store.close();
  }
}

