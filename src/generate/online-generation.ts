import type { GenerationConfig } from '../config/generation.js';
import type { ForgeConfig } from '../config/schema.js';
import type { GenerateEvent, GenerationStopReason, LowYield, SamplePreview } from '../events.js';
import { BudgetTracker } from '../llm/budget.js';
import type { EndpointPool } from '../llm/endpoint-pool.js';
import { RequestLoop, type LoopRequest, type LoopStats, type RequestMethod } from '../llm/request-loop.js';
import type { GenerationOutcome } from './generation-method.js';
import { commitMessage, type GenerationJobs, type JobRequest } from './generation-jobs.js';
import { modelPools } from './model-pools.js';
import type { IngestPipeline } from './ingest-pipeline.js';
import { lowYieldMessage, lowYieldStopMessage, YieldMonitor } from './yield-monitor.js';
import { shouldSend, YieldEstimator } from './yield-estimator.js';

/** What online generation takes of runGeneration's options. */
export interface OnlineOptions {
  runDir: string;
  config: ForgeConfig;
  apiKey?: string | undefined;
  apiKeyFor?: ((envName: string) => string | undefined) | undefined;
  signal: AbortSignal;
  onEvent: (e: GenerateEvent) => void;
  pause?: { paused: boolean } | undefined;
  progressIntervalMs?: number | undefined;
}

export interface OnlineRun {
  g: GenerationConfig;
  opts: OnlineOptions;
  jobs: GenerationJobs<unknown>;
  ingest: IngestPipeline;
  templateName: string;
  kept: number;
  resumed: boolean;
  abandoned: number;
  nextRequestId: number;
  spentBefore: number;
  elapsedBefore: number;
  /** The message of a run whose method ran out of work short of the target (evol's rounds done). */
  exhaustedMessage?: (kept: number) => string;
}

/** Answers the --min-yield floor is measured over. */
export const MIN_YIELD_WINDOW = 500;

/**
 * The latest kept samples as a feed for the screen: an event per answer was a megabyte of --json output per 1,000
 * answers, written by the thread that sends the requests. At most one event every 250 ms; the last is never held.
 */
class SampleFeed {
  private readonly latest: SamplePreview[] = [];
  private shownAt = -Infinity;
  private held = false;
  constructor(private readonly emit: (e: GenerateEvent) => void) {}

  add(samples: readonly SamplePreview[]): void {
    if (samples.length === 0) return;
    for (const item of samples) this.latest.unshift(item);
    this.latest.length = Math.min(this.latest.length, 10);
    this.show(false);
  }

  /** Shows what the 250 ms limit held back. */
  flushHeld(): void {
    if (this.held) this.show(true);
  }

  private show(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.shownAt < 250) {
      this.held = true;
      return;
    }
    this.shownAt = now;
    this.held = false;
    this.emit({ type: 'samples', latest: this.latest.slice(0, 5) });
  }
}

interface Job {
  requestId: number;
  /** The method's own job. */
  inner: unknown;
  /** The request going out now (the job's first, then each follow-up). */
  request: JobRequest;
}

/**
 * Online generation: the method's jobs go through the request loop to the run's endpoints until the run holds its
 * target (or the method has no more work). The loop owns concurrency, the budget, aborts and retries; this decides
 * when one more job is worth starting (the tail of a run is scheduled from the answers on their way) and hands each
 * answer to the writer thread. Every method (self-instruct, evol, magpie) runs through here.
 */
export async function generateOnline(r: OnlineRun): Promise<GenerationOutcome> {
  const { g, opts, jobs, ingest } = r;
  const emit = opts.onEvent;
  let kept = r.kept;
  let nextRequestId = r.nextRequestId;
  const rejections: Record<string, number> = {};
  const warnMonitor = new YieldMonitor();
  const floorMonitor = g.minYield > 0 ? new YieldMonitor({ window: MIN_YIELD_WINDOW, minShare: g.minYield }) : null;
  let lowYield: LowYield | null = null;
  const feed = new SampleFeed(emit);
  const budget = new BudgetTracker(g.budgetUsd ?? undefined, r.spentBefore);
  const { pool, send: sendToPool } = modelPools(g, opts, {
    prices: opts.config.prices,
    onTransport: (transport) => emit({ type: 'transport', transport }),
    onWarning: (message) => emit({ type: 'warning', message }),
  });
  const loopRequest = (q: JobRequest, requestId: number): LoopRequest => ({
    model: q.model ?? g.model,
    messages: q.messages,
    ...(q.completion ? { prompt: q.completion.prompt, stop: q.completion.stop } : {}),
    temperature: g.temperature,
    topP: g.topP,
    maxTokens: q.maxTokens ?? g.maxTokens,
    ...(g.seed !== null ? { seed: g.seed + requestId } : {}),
  });
  const concurrency = Math.min(g.concurrency, pool.capacity);
  const keptAtStart = kept;
  const started = Date.now();
  const progress = (s: LoopStats): GenerateEvent => progressEvent(s, { kept, keptAtStart, g, rejections, pool });
  const loop = new RequestLoop({
    send: sendToPool,
    concurrency,
    budget,
    prices: opts.config.prices,
    signal: opts.signal,
    pause: opts.pause,
    progressIntervalMs: opts.progressIntervalMs,
    onProgress: (s) => {
      feed.flushHeld();
      emit(progress(s));
      ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(r.elapsedBefore + Date.now() - started) });
    },
  });

  emit({
    type: 'start',
    runDir: opts.runDir,
    model: g.model,
    baseUrl: pool.status().map((e) => e.endpoint).join(', '),
    template: r.templateName,
    lang: g.lang,
    target: g.target,
    kept,
    concurrency,
    resumed: r.resumed,
    abandonedRequests: r.abandoned,
  });

  const yields = new YieldEstimator(2 * concurrency, jobs.itemsPerJob);
  const generation: RequestMethod<Job> = {
    next() {
      if (kept >= g.target || lowYield) return 'done';
      const send = shouldSend({
        remaining: g.target - kept,
        pendingAnswers: loop.stats.ingesting,
        inFlightSentAt: loop.inFlightSentAt(),
        now: performance.now(),
        // Before any answer every request in flight left just now, so the latency hardly matters: the timeout stands in.
        latencyMs: loop.stats.latencyMs ?? g.timeoutMs,
        yields,
      });
      if (!send) return 'wait';
      const started = jobs.start(kept);
      // None now: a round whose answers are still out (evol) waits; a method with no more work is done.
      if (!started) return jobs.exhausted ? 'done' : 'wait';
      return { requestId: 0, inner: started.job, request: started.request };
    },
    build(job) {
      job.requestId = nextRequestId++;
      return loopRequest(job.request, job.requestId);
    },
    // The endpoint and model are recorded when the pool picks one (routed), before the answer or the failure.
    sent: (job) => ingest.send({ type: 'begin', requestId: job.requestId, provenance: job.request.provenance }),
    routed: (job, endpoint, model) => ingest.send({ type: 'endpoint', requestId: job.requestId, endpoint, model }),
    failed: (job, f) => {
      ingest.send({ type: 'fail', requestId: job.requestId, error: f.message, ...(f.kind === 'abandoned' ? { abandoned: true } : {}) });
      jobs.failed(job.inner);
    },
    /**
     * The writer thread curates the items in arrival order and commits them with the response in one transaction:
     * a kill before that commit loses this answer (its request stays in flight, then abandoned), never half of it.
     */
    async ingest(job, answer) {
      const { commit, then, precheck } = jobs.answer(job.inner, { text: answer.text, finishReason: answer.finishReason });
      const result = {
        raw: answer.text,
        finishReason: answer.finishReason,
        promptTokens: answer.promptTokens,
        completionTokens: answer.completionTokens,
        costUsd: answer.costUsd,
        // As the API names it; absent, the model recorded when the pool picked the endpoint stays.
        model: answer.model ?? null,
      };
      const done = await ingest.complete(commitMessage(job.requestId, result, commit, then ? precheck : undefined));
      kept = done.kept;
      if (then && !done.settled) {
        // The job's next request (an evolution's response), sent in the same slot of the loop.
        job.request = then;
        job.requestId = nextRequestId++;
        return loopRequest(then, job.requestId);
      }
      jobs.committed(job.inner, done);
      yields.observe(done.keptNow);
      for (const [reason, n] of Object.entries(done.rejections)) rejections[reason] = (rejections[reason] ?? 0) + n;
      feed.add(done.keptSamples);
      // Answers arriving after the target is reached are rejected as over-target: no sign of a bad run.
      if (done.kept < g.target) {
        const low = warnMonitor.record(jobs.itemsPerJob, done.keptNow, done.rejections);
        if (low) emit({ type: 'warning', message: lowYieldMessage(low), lowYield: low });
        lowYield ??= floorMonitor?.record(jobs.itemsPerJob, done.keptNow, done.rejections) ?? null;
      }
      return undefined;
    },
  };

  let outcome: Awaited<ReturnType<RequestLoop['run']>>;
  try {
    outcome = await loop.run(generation);
  } finally {
    ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(r.elapsedBefore + Date.now() - started) });
    await ingest.close();
  }
  const spent = loop.snapshot().spentUsd;
  if (outcome.stop === 'endpoint-down') {
    const message = `${outcome.endpointDown!.message}; stopped — rerun the same command to resume once the endpoint is back`;
    emit({ type: 'done', reason: 'endpoint-down', kept, target: g.target, costUsd: spent, message });
    return { reason: 'endpoint-down', kept, message };
  }
  const reason: GenerationStopReason =
    outcome.stop === 'budget' ? 'budget' : outcome.stop === 'interrupted' ? 'interrupted' : kept >= g.target ? 'target' : lowYield ? 'low-yield' : jobs.exhausted ? 'exhausted' : 'interrupted';
  feed.flushHeld();
  emit(progress(loop.snapshot()));
  const message =
    reason === 'target'
      ? `target reached: ${kept} kept samples`
      : reason === 'budget'
        ? `stopped before exceeding the budget of $${g.budgetUsd}: spent $${spent.toFixed(4)}, ${kept}/${g.target} kept`
        : reason === 'low-yield'
          ? lowYieldStopMessage(lowYield!, kept, g.target)
          : reason === 'exhausted'
            ? (r.exhaustedMessage?.(kept) ?? `${jobs.name} has no more work: ${kept}/${g.target} kept`)
            : `interrupted at ${kept}/${g.target} kept; rerun the same command to resume`;
  emit({ type: 'done', reason, kept, target: g.target, costUsd: spent, message, ...(reason === 'low-yield' ? { lowYield: lowYield! } : {}) });
  return { reason, kept, message };
}

/** The loop's figures as a progress event: the rate and ETA count what this process kept, not what it resumed with. */
function progressEvent(s: LoopStats, o: { kept: number; keptAtStart: number; g: GenerationConfig; rejections: Record<string, number>; pool: EndpointPool }): GenerateEvent {
  const elapsedSec = Math.max(s.elapsedSec, 1e-3);
  const rate = (o.kept - o.keptAtStart) / elapsedSec;
  return {
    type: 'progress',
    kept: o.kept,
    target: o.g.target,
    requestsDone: s.requestsDone,
    requestsFailed: s.requestsFailed,
    inFlight: s.inFlight,
    requestsPerSec: s.requestsDone / elapsedSec,
    tokensPerSec: (s.promptTokens + s.completionTokens) / elapsedSec,
    promptTokens: s.promptTokens,
    completionTokens: s.completionTokens,
    costUsd: s.spentUsd,
    budgetUsd: o.g.budgetUsd,
    etaSec: rate > 0 ? Math.max(0, o.g.target - o.kept) / rate : null,
    elapsedSec: s.elapsedSec,
    rejections: { ...o.rejections },
    ...(o.pool.size > 1 ? { endpoints: o.pool.status().map((e) => ({ ...e, requestsPerSec: e.ok / elapsedSec })) } : {}),
  };
}
