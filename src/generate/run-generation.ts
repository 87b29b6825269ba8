import pLimit from 'p-limit';
import { join } from 'node:path';
import type { ForgeConfig } from '../config/schema.js';
import type { GenerationConfig } from '../config/generation.js';
import { ApiError, ConfigError, ForgeError } from '../errors.js';
import type { GenerateEvent, GenerationStopReason, SamplePreview } from '../events.js';
import { seedsDir } from '../paths.js';
import { acquireRunLock } from '../store/run-lock.js';
import { RunStore } from '../store/run-store.js';
import { RetriesExhaustedError, type ChatResult } from '../llm/chat-client.js';
import { BudgetTracker, costOf } from '../llm/budget.js';
import { EndpointDownError } from '../llm/endpoint-gate.js';
import { poolEndpoints, poolFromConfig } from '../llm/pool-from-config.js';
import { RequestAborts } from '../llm/request-aborts.js';
import { ExampleSampler } from './example-sampler.js';
import { IngestPipeline } from './ingest-pipeline.js';
import { loadPromptTemplate, renderPrompt } from './prompt-template.js';
import { seededRandom } from '../random.js';
import { loadSeedTasks } from '../data/seed-tasks.js';
import { resolveRunSettings, type RunSetting } from './run-settings.js';
import { lowYieldMessage, YieldMonitor } from './yield-monitor.js';
import { sleep } from '../llm/retry-policy.js';
import type { Lang } from '../data/sample.js';
import { shouldSend, YieldEstimator } from './yield-estimator.js';
import { runBatchRounds, type BatchAction } from './batch-rounds.js';
import type { BatchApi } from './batch-api.js';

export interface RunGenerationOptions {
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
  /** Settings a resume may change (recorded in the run's history); any other change is refused. Defaults to none. */
  allowChange?: ReadonlySet<RunSetting>;
  /**
   * Batch rounds instead of online requests: the Batch API (also chosen by generation.mode: batch), or one round
   * written to / read from a file for an offline engine.
   */
  batch?: BatchAction;
  /** Test hook for batch mode: the Batch API client. */
  batchApi?: BatchApi;
}

export type GenerationOutcome = { reason: GenerationStopReason; kept: number; message: string };

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

/** The shortest time between two 'samples' events of a run. */
const SAMPLES_EVERY_MS = 250;

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
  // Evol-Instruct and Magpie bring their own requests; they share the pool, budget, writer thread and curation.
  if (g.method !== 'self-instruct') return (await import('./methods/start-method-run.js')).startMethodRun(opts);
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
  const emit = opts.onEvent;
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
  const spentBefore = store.spentUsd();
  const elapsedBefore = Number(store.getMeta('elapsed_ms') ?? 0);
  let nextRequestId = store.nextRequestId();
  const ingest = IngestPipeline.start({
    runDir: opts.runDir,
    config: opts.config,
    lang: g.lang,
    target: g.target,
    seeds: seeds.map((s) => ({ id: `seed:${s.id}`, instruction: s.instruction, input: s.instances[0]!.input })),
  });

  let kept = keptRows.length;
  const batchAction: BatchAction | null = opts.batch ?? (g.mode === 'batch' ? { kind: 'api', cancel: false } : null);
  if (batchAction) {
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
        template,
        sampler,
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
  const rejections: Record<string, number> = {};
  const yieldMonitor = new YieldMonitor();
  const latest: SamplePreview[] = [];
  // The latest samples are a feed for the screen: an event per answer was a megabyte of --json output per 1,000
  // answers, written by the thread that sends the requests. At most one every SAMPLES_EVERY_MS; the last one is
  // never held back.
  let samplesShownAt = -Infinity;
  let samplesHeld = false;
  const showSamples = (force: boolean) => {
    const now = performance.now();
    if (!force && now - samplesShownAt < SAMPLES_EVERY_MS) {
      samplesHeld = true;
      return;
    }
    samplesShownAt = now;
    samplesHeld = false;
    emit({ type: 'samples', latest: latest.slice(0, 5) });
  };
  const budget = new BudgetTracker(g.budgetUsd ?? undefined, spentBefore);
  // A Ctrl-C while the run was being opened (seeds hashed, writer thread starting) counts too: RequestAborts sees it.
  const internal = new RequestAborts(opts.signal);

  const pool = poolFromConfig(g, poolEndpoints(g, opts), {
    prices: opts.config.prices,
    onTransport: (transport) => emit({ type: 'transport', transport }),
    onWarning: (message) => emit({ type: 'warning', message }),
  });
  const concurrency = Math.min(g.concurrency, pool.capacity);

  emit({
    type: 'start',
    runDir: opts.runDir,
    model: g.model,
    baseUrl: pool.status().map((e) => e.endpoint).join(', '),
    template: template.name,
    lang: g.lang,
    target: g.target,
    kept,
    concurrency,
    resumed,
    abandonedRequests: abandoned,
  });

  const started = Date.now();
  const keptAtStart = kept;
  let requestsDone = 0;
  let requestsFailed = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  let inFlight = 0;
  let stopReason: GenerationOutcome['reason'] | null = null;
  let fatal: unknown = null;

  const progress = (): GenerateEvent => {
    const elapsedSec = (Date.now() - started) / 1000;
    const rate = (kept - keptAtStart) / Math.max(elapsedSec, 1e-3);
    return {
      type: 'progress',
      kept,
      target: g.target,
      requestsDone,
      requestsFailed,
      inFlight,
      requestsPerSec: requestsDone / Math.max(elapsedSec, 1e-3),
      tokensPerSec: (promptTokens + completionTokens) / Math.max(elapsedSec, 1e-3),
      promptTokens,
      completionTokens,
      costUsd: budget.spentUsd,
      budgetUsd: g.budgetUsd,
      etaSec: rate > 0 ? Math.max(0, g.target - kept) / rate : null,
      elapsedSec,
      rejections: { ...rejections },
      ...(pool.size > 1 ? { endpoints: pool.status().map((e) => ({ ...e, requestsPerSec: e.ok / Math.max(elapsedSec, 1e-3) })) } : {}),
    };
  };
  const tick = setInterval(() => {
    if (samplesHeld) showSamples(true);
    emit(progress());
    ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(elapsedBefore + Date.now() - started) });
  }, opts.progressIntervalMs ?? 1000);

  /** Worst case of one request, reserved against the budget before it is sent. */
  const worstCaseUsd = (prompt: string) => costOf(opts.config.prices, g.model, Math.ceil(prompt.length / 2), g.maxTokens);

  // The loop sleeps on this and is woken whenever an answer arrives or a response is committed.
  let wake: () => void = () => {};
  const nextChange = () => new Promise<void>((resolve) => (wake = resolve));
  // Answers handed to the writer and not yet curated; they count at the recent yield.
  let pendingAnswers = 0;
  const yields = new YieldEstimator(2 * concurrency, g.numTasks);
  // When each request in flight left (in send order, so oldest first), and a request's recent round trip: the tail
  // of a run is scheduled from when the answers on their way will be in.
  const sentAt = new Map<object, number>();
  let latencyMs: number | null = null;

  type Answer = { requestId: number; result: ChatResult; nextIndex: number };

  /** Sends one request and parses its answer; null when it failed for good (recorded) or was interrupted. */
  const fetchAnswer = async (prompt: string, refs: string[], reservedUsd: number, slot: object): Promise<Answer | null> => {
    const requestId = nextRequestId++;
    const sent = performance.now();
    // The endpoint and model are recorded when the pool picks one (the 'endpoint' message below).
    ingest.send({ type: 'begin', requestId, provenance: { examples: refs, template: template.name } });
    try {
      const result = await internal.run((signal) =>
        pool.complete(
          {
            messages: [{ role: 'user', content: prompt }],
            temperature: g.temperature,
            topP: g.topP,
            maxTokens: g.maxTokens,
            ...(g.seed !== null ? { seed: g.seed + requestId } : {}),
            signal,
          },
          // Recorded before the answer is committed (or the failure), so each request names who answered it.
          (endpoint, model) => ingest.send({ type: 'endpoint', requestId, endpoint, model }),
        ),
      );
      budget.settle(reservedUsd, result.costUsd);
      const took = performance.now() - sent;
      latencyMs = latencyMs === null ? took : latencyMs + 0.1 * (took - latencyMs);
      requestsDone++;
      promptTokens += result.promptTokens;
      completionTokens += result.completionTokens;
      return { requestId, result, nextIndex: refs.length + 1 };
    } catch (err) {
      budget.settle(reservedUsd, 0);
      if (internal.signal.aborted) {
        // Never answered: like a request cut off by a kill, it counts for nothing.
        ingest.send({ type: 'fail', requestId, error: 'interrupted before the answer arrived', abandoned: true });
        return null;
      }
      requestsFailed++;
      ingest.send({ type: 'fail', requestId, error: err instanceof Error ? err.message : String(err) });
      if (err instanceof RetriesExhaustedError) return null;
      // Stop the loop before this slot's wake-up lets it send another request to an endpoint that refuses us.
      if (fatal === null) fatal = err;
      internal.abort(err);
      throw err;
    } finally {
      inFlight--;
      sentAt.delete(slot);
      wake();
    }
  };

  /**
   * The writer thread curates the items in arrival order and commits them with the response in one transaction:
   * a kill before that commit loses this answer (its request stays in flight, then abandoned), never half of it.
   * The request's concurrency slot is already free by now, so a busy writer never holds back the HTTP side.
   */
  const ingestAnswer = async (a: Answer): Promise<void> => {
    pendingAnswers++;
    try {
      const { result } = a;
      const done = await ingest.complete({
        type: 'complete',
        requestId: a.requestId,
        result: {
          raw: result.text,
          finishReason: result.finishReason,
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
          costUsd: result.costUsd,
          // As the API names it; absent, the model recorded when the pool picked the endpoint stays.
          model: result.model ?? null,
        },
        format: template.format,
        nextIndex: a.nextIndex,
      });
      kept = done.kept;
      yields.observe(done.keptNow);
      for (const [reason, n] of Object.entries(done.rejections)) rejections[reason] = (rejections[reason] ?? 0) + n;
      for (const item of done.keptSamples) {
        sampler.addKept(item.id, item);
        latest.unshift(item);
      }
      latest.length = Math.min(latest.length, 10);
      if (done.keptNow > 0) showSamples(false);
      // Answers arriving after the target is reached are rejected as over-target: no sign of a bad run.
      if (done.kept < g.target) {
        const low = yieldMonitor.record(g.numTasks, done.keptNow, done.rejections);
        if (low) emit({ type: 'warning', message: lowYieldMessage(low), lowYield: low });
      }
    } finally {
      pendingAnswers--;
      wake();
    }
  };

  const limit = pLimit(concurrency);
  const running = new Set<Promise<void>>();
  const wantsAnother = () =>
    inFlight < concurrency &&
    shouldSend({
      remaining: g.target - kept,
      pendingAnswers,
      inFlightSentAt: [...sentAt.values()],
      now: performance.now(),
      // Before any answer every request in flight left just now, so the latency hardly matters: the timeout stands in.
      latencyMs: latencyMs ?? g.timeoutMs,
      yields,
    });

  try {
    while (stopReason === null && fatal === null) {
      if (kept >= g.target) {
        stopReason = 'target';
        break;
      }
      if (internal.signal.aborted) {
        stopReason = 'interrupted';
        break;
      }
      if (opts.pause?.paused) {
        await Promise.race([sleep(200), nextChange()]);
        continue;
      }
      if (!wantsAnother()) {
        if (running.size === 0) break;
        await nextChange();
        continue;
      }
      const { examples, refs } = sampler.sample(kept);
      const prompt = renderPrompt(template, examples, g.numTasks);
      const reserve = worstCaseUsd(prompt);
      if (budget.wouldExceed(reserve)) {
        if (running.size === 0) {
          stopReason = 'budget';
          break;
        }
        await nextChange();
        continue;
      }
      budget.reserve(reserve);
      inFlight++;
      // Counted from here, not from when p-limit starts it: the next turn of this loop must see it in flight.
      const slot = {};
      sentAt.set(slot, performance.now());
      const p: Promise<void> = (async () => {
        const answer = await limit(() => fetchAnswer(prompt, refs, reserve, slot));
        if (!answer) return;
        await ingestAnswer(answer);
      })()
        .catch((err: unknown) => {
          if (fatal === null) fatal = err;
          internal.abort(err);
        })
        .finally(() => {
          running.delete(p);
          wake();
        });
      running.add(p);
    }
    // A target reached or a budget hit lets requests in flight finish (their items are paid for);
    // Ctrl-C or a fatal error has already aborted them.
    await Promise.allSettled([...running]);
  } finally {
    clearInterval(tick);
    internal.dispose();
    ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(elapsedBefore + Date.now() - started) });
    await ingest.close();
  }

  if (fatal !== null) {
    if (fatal instanceof EndpointDownError) {
      const message = `${fatal.message}; stopped — rerun the same command to resume once the endpoint is back`;
      emit({ type: 'done', reason: 'endpoint-down', kept, target: g.target, costUsd: budget.spentUsd, message });
      return { reason: 'endpoint-down', kept, message };
    }
    if (fatal instanceof ForgeError || fatal instanceof ApiError) throw fatal;
    throw fatal;
  }
  const reason = stopReason ?? 'interrupted';
  if (samplesHeld) showSamples(true);
  emit(progress());
  const message =
    reason === 'target'
      ? `target reached: ${kept} kept samples`
      : reason === 'budget'
        ? `stopped before exceeding the budget of $${g.budgetUsd}: spent $${budget.spentUsd.toFixed(4)}, ${kept}/${g.target} kept`
        : `interrupted at ${kept}/${g.target} kept; rerun the same command to resume`;
  emit({ type: 'done', reason, kept, target: g.target, costUsd: budget.spentUsd, message });
  return { reason, kept, message };
}
