import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ForgeConfig } from '../config/schema.js';
import type { GenerationConfig } from '../config/generation.js';
import { ApiError, ConfigError, DataError } from '../errors.js';
import type { GenerateEvent, GenerationStopReason, SamplePreview } from '../events.js';
import type { BatchRound, RunStore } from '../store/run-store.js';
import { writeAll, writeOutputWith } from '../io/write-output.js';
import { BudgetTracker, costOf, hasBatchPrices, worstCaseUsd } from '../llm/budget.js';
import { sleep } from '../llm/retry-policy.js';
import { BatchApi, terminalBatchStatuses, type BatchState } from './batch-api.js';
import { batchCompletionLine, batchInputLine, batchRequestBody, customIdFor, parseBatchOutput, requestIdFrom, type BatchOutcome } from './batch-file.js';
import type { IngestPipeline } from './ingest-pipeline.js';
import type { GenerationJobs, JobRequest } from './generation-jobs.js';
import { requestsToFill, YieldEstimator } from './yield-estimator.js';
import { batchRoundCap, type RoundYield } from './batch-round-size.js';

/** What batch mode and the offline files do, besides generating through the Batch API. */
export type BatchAction = { kind: 'api'; cancel: boolean } | { kind: 'emit'; file: string } | { kind: 'ingest'; file: string };

export interface BatchRoundsContext {
  store: RunStore;
  runDir: string;
  g: GenerationConfig;
  config: ForgeConfig;
  apiKey: string | undefined;
  signal: AbortSignal;
  emit: (e: GenerateEvent) => void;
  templateName: string;
  /** The method's jobs: a job of several steps (evol) sends its next step in the next round. */
  jobs: GenerationJobs<unknown>;
  ingest: IngestPipeline;
  kept: number;
  resumed: boolean;
  abandoned: number;
  action: BatchAction;
  /** Test hook: the Batch API client (its polling waits come from generation.batch). */
  api?: BatchApi;
  /** The message of a run whose method ran out of work short of the target (evol's rounds done). */
  exhaustedMessage?: (kept: number) => string;
}

type Outcome = { reason: GenerationStopReason; kept: number; message: string };

/**
 * Generation in rounds of batch requests. Self-instruct shows each request some of the run's own kept tasks, so
 * a round is built only after the previous one is curated; a job of several steps (an evolution, then its response)
 * sends its next step in the next round, and evol's next round of evolution starts once this one's are all answered. Each round is recorded (its requests 'queued') before
 * anything is sent; the batch's ids and states are recorded as they come, so a process killed at any moment
 * resumes polling the same batch, finds a batch it created but did not record (by its input file), and ingests
 * a line only while its request is still queued.
 */
export async function runBatchRounds(ctx: BatchRoundsContext): Promise<Outcome> {
  const { store, g, emit } = ctx;
  if (ctx.action.kind === 'api' && g.endpoints.length > 0) {
    // A batch lives at the endpoint that took it; spreading rounds over a pool would scatter them.
    throw new ConfigError([`generation.endpoints lists ${g.endpoints.length} endpoints, but batch mode sends its rounds to one endpoint (generation.baseUrl)`], 'remove generation.endpoints (or give one --base-url) for --mode batch, or use --mode online for a pool');
  }
  let kept = ctx.kept;
  const runTag = store.getMeta('run_tag') ?? randomBytes(4).toString('hex');
  store.setMeta('run_tag', runTag);
  const budget = new BudgetTracker(g.budgetUsd ?? undefined, store.spentUsd());
  const yields = new YieldEstimator(Math.max(2, g.batch.maxRequests), ctx.jobs.itemsPerJob);
  // Next steps of jobs whose answer came in (an evolution's response), and a job the budget held back: first in the next round.
  const held: Array<{ job: unknown; request: JobRequest }> = [];
  let budgetHit = false;
  const latest: SamplePreview[] = [];
  // Worst cases reserved by rounds this process prepared, released when the round closes (its real cost counted).
  const reservedByRound = new Map<number, number>();
  const rejections: Record<string, number> = {};
  // What the answers ingested since the last round was prepared kept: the next round is sized from it.
  let seen: RoundYield = { answers: 0, kept: 0 };
  let requestsDone = 0;
  let requestsFailed = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  const started = Date.now();
  const api = ctx.action.kind === 'api' ? (ctx.api ?? new BatchApi({ baseURL: g.baseUrl ?? undefined, apiKey: ctx.apiKey, maxRetries: g.maxRetries })) : null;

  emit({
    type: 'start',
    runDir: ctx.runDir,
    model: g.model,
    baseUrl: api?.baseURL ?? (ctx.action.kind === 'api' ? '' : `file ${ctx.action.file}`),
    template: ctx.templateName,
    lang: g.lang,
    target: g.target,
    kept,
    concurrency: g.batch.maxRequests,
    resumed: ctx.resumed,
    abandonedRequests: ctx.abandoned,
  });
  if (pricedWithoutBatchPrices(ctx.config, g.model)) {
    emit({ type: 'warning', message: `prices.${g.model} has no batchInput/batchOutput: batch requests are counted at the normal price (the OpenAI Batch API charges about half); add them to forge.yaml for the real cost` });
  }

  const progress = (queued: number): void =>
    emit({
      type: 'progress',
      kept,
      target: g.target,
      requestsDone,
      requestsFailed,
      inFlight: queued,
      requestsPerSec: requestsDone / Math.max((Date.now() - started) / 1000, 1e-3),
      tokensPerSec: (promptTokens + completionTokens) / Math.max((Date.now() - started) / 1000, 1e-3),
      promptTokens,
      completionTokens,
      costUsd: budget.spentUsd,
      budgetUsd: g.budgetUsd,
      etaSec: null,
      elapsedSec: (Date.now() - started) / 1000,
      rejections: { ...rejections },
    });
  const batchEvent = (b: BatchRound, status: string, message: string) =>
    emit({ type: 'batch', round: b.round, batchId: store.batch(b.round)?.batchId ?? b.batchId, status, requests: b.lastRequest - b.firstRequest + 1, message });

  /** Builds, writes and records one round; null when the budget leaves room for no request. */
  const prepareRound = (kind: 'api' | 'file', path: string | null): BatchRound | null => {
    const n = Math.min(requestsToFill({ remaining: g.target - kept, pendingAnswers: 0, concurrency: g.batch.maxRequests, yields }), batchRoundCap(g.target - kept, seen));
    seen = { answers: 0, kept: 0 };
    let id = store.nextRequestId();
    const lines: string[] = [];
    const requests: Array<{ id: number; examples: unknown }> = [];
    let reserved = 0;
    budgetHit = false;
    for (let i = 0; i < Math.max(n, held.length); i++) {
      const next = held.shift() ?? ctx.jobs.start(kept);
      if (!next) break;
      const req = next.request;
      const model = req.model ?? g.model;
      const maxTokens = req.maxTokens ?? g.maxTokens;
      // Worst case at the batch price, as the request loop reserves it online.
      const reserve = worstCaseUsd(ctx.config.prices, model, req.completion ? [{ content: req.completion.prompt }] : req.messages, maxTokens, 'batch');
      if (budget.wouldExceed(reserve)) {
        held.unshift(next);
        budgetHit = true;
        break;
      }
      budget.reserve(reserve);
      reserved += reserve;
      const sampling = { temperature: g.temperature, top_p: g.topP, max_tokens: maxTokens, ...(g.seed !== null ? { seed: g.seed + id } : {}) };
      lines.push(
        req.completion
          ? batchCompletionLine(customIdFor(runTag, id), { model, prompt: req.completion.prompt, stop: req.completion.stop, ...sampling })
          : batchInputLine(customIdFor(runTag, id), batchRequestBody(kind === 'api' ? api!.baseURL : null, { model, messages: req.messages, temperature: g.temperature, topP: g.topP, maxTokens, seed: g.seed !== null ? g.seed + id : null })),
      );
      requests.push({ id, examples: req.provenance });
      id++;
    }
    if (requests.length === 0) {
      budget.settle(reserved, 0);
      return null;
    }
    const file = path ?? join(ctx.runDir, 'batches', `requests-${requests[0]!.id}.jsonl`);
    // Written whole before the round is recorded: a kill in between leaves a file the next round overwrites.
    writeOutputWith(file, (fd) => writeAll(fd, Buffer.from(`${lines.join('\n')}\n`, 'utf8')), { label: path === null ? 'batch file' : '--emit-batch' });
    const round = store.queueBatch({ kind, inputPath: file, requests });
    reservedByRound.set(round, reserved);
    const b = store.batch(round)!;
    batchEvent(b, 'prepared', `round ${round}: ${requests.length} requests written to ${file}`);
    return b;
  };

  /** Curates one round's results (output and error files together); requests with no result stay queued. */
  const ingestOutcomes = async (b: BatchRound, outcomes: BatchOutcome[], source: string): Promise<{ ingested: number; skipped: number }> => {
    const queued = new Map(store.queuedRequests(b.round).map((r) => [r.id, r]));
    const byId = new Map<number, BatchOutcome>();
    for (const o of outcomes) {
      const id = requestIdFrom(runTag, o.customId);
      if (id === null) throw new DataError(`${source}: custom_id "${o.customId}" is not from this run (its requests are named ${runTag}-N)`, 'ingest the output of a file this run wrote with --emit-batch');
      byId.set(id, o);
    }
    let skipped = 0;
    const pending: Array<Promise<void>> = [];
    for (const id of [...byId.keys()].sort((a, c) => a - c)) {
      const o = byId.get(id)!;
      const req = queued.get(id);
      if (!req) {
        skipped++; // answered already (a resumed ingest), or another round's
        continue;
      }
      if (!o.ok) {
        requestsFailed++;
        ctx.ingest.send({ type: 'fail', requestId: id, error: o.error });
        ctx.jobs.failed(ctx.jobs.revive(req.examples));
        continue;
      }
      const costUsd = costOf(ctx.config.prices, g.model, o.promptTokens, o.completionTokens, 'batch');
      requestsDone++;
      promptTokens += o.promptTokens;
      completionTokens += o.completionTokens;
      budget.add(costUsd);
      const job = ctx.jobs.revive(req.examples);
      const { commit, then } = ctx.jobs.answer(job, { text: o.text, finishReason: o.finishReason });
      const result = { raw: o.text, finishReason: o.finishReason, promptTokens: o.promptTokens, completionTokens: o.completionTokens, costUsd };
      pending.push(
        ctx.ingest
          .complete('items' in commit ? { type: 'complete-items', requestId: id, result, items: commit.items } : { type: 'complete', requestId: id, result, ...commit })
          .then((done) => {
            if (then) {
              held.push({ job, request: then });
              return;
            }
            ctx.jobs.committed(job, done);
            kept = Math.max(kept, done.kept);
            yields.observe(done.keptNow);
            seen = { answers: seen.answers + 1, kept: seen.kept + done.keptNow };
            for (const [reason, n] of Object.entries(done.rejections)) rejections[reason] = (rejections[reason] ?? 0) + n;
            for (const item of done.keptSamples) latest.unshift(item);
            latest.length = Math.min(latest.length, 10);
          }),
      );
    }
    await Promise.all(pending);
    await ctx.ingest.flush();
    if (latest.length) emit({ type: 'samples', latest: latest.slice(0, 5) });
    return { ingested: byId.size - skipped, skipped };
  };

  /** Marks what a finished batch did not answer as failed, and closes the round. */
  const closeRound = async (b: BatchRound, why: string): Promise<void> => {
    const left = store.queuedRequests(b.round);
    for (const r of left) {
      requestsFailed++;
      ctx.ingest.send({ type: 'fail', requestId: r.id, error: why });
      ctx.jobs.failed(ctx.jobs.revive(r.examples));
    }
    await ctx.ingest.flush();
    store.markBatchIngested(b.round);
    budget.settle(reservedByRound.get(b.round) ?? 0, 0);
    reservedByRound.delete(b.round);
  };

  /** Upload → create (or adopt) → poll → download → ingest; returns the batch's final state. */
  const drive = async (b: BatchRound, cancel: boolean): Promise<BatchState | null> => {
    const signal = ctx.signal;
    let round = b;
    if (!round.inputFileId) {
      const fileId = await api!.upload(basename(round.inputPath), readFileSync(round.inputPath, 'utf8'), signal);
      store.updateBatch(round.round, { inputFileId: fileId, status: 'uploaded' });
      round = store.batch(round.round)!;
    }
    if (!round.batchId) {
      if (cancel) {
        const existing = await api!.findByInputFile(round.inputFileId!, signal);
        if (!existing) {
          await closeRound(round, 'cancelled before the batch was submitted');
          batchEvent(round, 'cancelled', `round ${round.round}: cancelled before it was submitted`);
          return null;
        }
        store.updateBatch(round.round, { batchId: existing.id, status: existing.status });
      } else {
        // A kill between create and recording its id must not submit the same requests twice.
        const state = (await api!.findByInputFile(round.inputFileId!, signal)) ?? (await api!.create(round.inputFileId!, { forge_run: runTag, forge_round: String(round.round) }, signal));
        store.updateBatch(round.round, { batchId: state.id, status: state.status });
      }
      round = store.batch(round.round)!;
      batchEvent(round, round.status, `round ${round.round}: batch ${round.batchId} submitted (${round.lastRequest - round.firstRequest + 1} requests)`);
    }
    let state = await api!.retrieve(round.batchId!, signal);
    if (cancel && !terminalBatchStatuses.has(state.status)) {
      state = await api!.cancel(round.batchId!, signal);
      batchEvent(round, state.status, `round ${round.round}: cancelling batch ${round.batchId}`);
    }
    let waitMs = g.batch.pollSeconds * 1000;
    while (!terminalBatchStatuses.has(state.status)) {
      if (state.status !== round.status) {
        store.updateBatch(round.round, { status: state.status });
        round = store.batch(round.round)!;
        batchEvent(round, state.status, `round ${round.round}: batch ${round.batchId} is ${state.status}`);
      }
      progress(round.lastRequest - round.firstRequest + 1);
      await sleep(waitMs, signal);
      waitMs = Math.min(waitMs * 1.5, g.batch.maxPollSeconds * 1000);
      state = await api!.retrieve(round.batchId!, signal);
    }
    store.updateBatch(round.round, { status: state.status, outputFileId: state.outputFileId, errorFileId: state.errorFileId });
    const outcomes: BatchOutcome[] = [];
    for (const fileId of [state.outputFileId, state.errorFileId]) {
      if (fileId) outcomes.push(...parseBatchOutput(await api!.download(fileId, signal), `batch ${state.id} file ${fileId}`));
    }
    const { ingested } = await ingestOutcomes(round, outcomes, `batch ${state.id}`);
    const why =
      state.status === 'expired'
        ? 'batch expired: not run within the 24 h completion window'
        : state.status === 'failed'
          ? `batch failed: ${state.errors.join('; ') || 'no reason given'}`
          : state.status === 'cancelled'
            ? 'batch cancelled before this request ran'
            : 'missing from the batch output and error files';
    await closeRound(round, why);
    batchEvent(round, state.status, `round ${round.round}: batch ${state.id} ${state.status}; ${ingested} results ingested, ${kept}/${g.target} kept`);
    progress(0);
    return state;
  };

  const running = (): string => {
    const open = store.openBatches().filter((b) => b.kind === 'api' && b.batchId);
    return open.length ? ` batch ${open.map((b) => b.batchId).join(', ')} keeps running at the endpoint: rerun the same command to resume polling it, or add --cancel-batches to cancel it` : ' rerun the same command to resume';
  };

  const finish = (reason: GenerationStopReason, message: string): Outcome => {
    progress(0);
    emit({ type: 'done', reason, kept, target: g.target, costUsd: budget.spentUsd, message });
    return { reason, kept, message };
  };

  /** No request to send and none held back by the budget: the method's work is done, or waits on answers of earlier rounds. */
  const nothingToSend = (): Outcome => {
    const waiting = store.openBatches().reduce((n, b) => n + store.queuedRequests(b.round).length, 0);
    if (waiting > 0) return finish('batch-pending', `nothing new to send: ${waiting} requests of earlier rounds still wait for results (evol's next round starts from this round's kept items) — ingest them first with --ingest-batch FILE`);
    return finish('exhausted', ctx.exhaustedMessage?.(kept) ?? `${ctx.jobs.name} has no more work: ${kept}/${g.target} kept`);
  };

  try {
    const action = ctx.action;
    if (action.kind === 'emit') {
      if (kept >= g.target) return finish('target', `target reached: ${kept} kept samples; nothing to emit`);
      const b = prepareRound('file', action.file);
      if (!b && !budgetHit) return nothingToSend();
      if (!b) return finish('budget', `no request fits in the budget of $${g.budgetUsd}: spent $${budget.spentUsd.toFixed(4)}`);
      const n = b.lastRequest - b.firstRequest + 1;
      return finish('batch-pending', `wrote ${n} requests to ${action.file}; run them (e.g. vLLM's run_batch), then: alpaca-forge generate --run ${ctx.runDir} --ingest-batch OUTPUT.jsonl`);
    }
    if (action.kind === 'ingest') {
      let text: string;
      try {
        text = readFileSync(action.file, 'utf8');
      } catch (e) {
        throw new DataError(`${action.file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'pass the output JSONL of the batch');
      }
      const outcomes = parseBatchOutput(text, action.file);
      const rounds = store.openBatches().filter((b) => b.kind === 'file');
      if (rounds.length === 0) throw new DataError(`${ctx.runDir}: no round is waiting for results`, 'write one first with --emit-batch FILE');
      // All or nothing: a file holding lines of no request of this run is the wrong file (or an edited one), and
      // ingesting the rest of it first would leave the run half-fed by it.
      const inRound = (id: number, b: BatchRound) => id >= b.firstRequest && id <= b.lastRequest;
      const everRound = store.batches();
      const strangers = outcomes.filter((o) => {
        const id = requestIdFrom(runTag, o.customId);
        return id === null || !everRound.some((b) => inRound(id, b));
      });
      if (strangers.length > 0) {
        const first = strangers[0]!.customId;
        const why = requestIdFrom(runTag, first) === null ? `is not from this run (its requests are named ${runTag}-N)` : 'is not a request this run wrote';
        throw new DataError(
          `${action.file}: custom_id "${first}" ${why}; ${strangers.length} of its ${outcomes.length} lines name no request of this run, so nothing was ingested`,
          'ingest the output of a file this run wrote with --emit-batch, unedited',
        );
      }
      let ingested = 0;
      let skipped = 0;
      for (const b of rounds) {
        const mine = outcomes.filter((o) => inRound(requestIdFrom(runTag, o.customId)!, b));
        const r = await ingestOutcomes(b, mine, action.file);
        ingested += r.ingested;
        skipped += r.skipped;
        if (store.queuedRequests(b.round).length === 0) store.markBatchIngested(b.round);
      }
      // Lines of rounds closed before: answered already.
      skipped += outcomes.filter((o) => !rounds.some((b) => inRound(requestIdFrom(runTag, o.customId)!, b))).length;
      const waiting = store.openBatches().filter((b) => b.kind === 'file').reduce((n, b) => n + store.queuedRequests(b.round).length, 0);
      const note = `ingested ${ingested} results from ${action.file}${skipped ? ` (${skipped} already ingested, skipped)` : ''}${waiting ? `; ${waiting} requests still wait for results` : ''}`;
      return kept >= g.target ? finish('target', `${note}; target reached: ${kept} kept samples`) : finish('batch-pending', `${note}; ${kept}/${g.target} kept — write the next round with --emit-batch FILE`);
    }

    for (;;) {
      if (ctx.signal.aborted) return finish('interrupted', `interrupted at ${kept}/${g.target} kept;${running()}`);
      const open = store.openBatches().filter((b) => b.kind === 'api');
      if (action.cancel) {
        for (const b of open) await drive(b, true);
        return finish('cancelled', `cancelled ${open.length} batch(es); what they had answered is ingested: ${kept}/${g.target} kept`);
      }
      if (open.length === 0) {
        if (kept >= g.target) return finish('target', `target reached: ${kept} kept samples`);
        const b = prepareRound('api', null);
        if (!b && !budgetHit) return nothingToSend();
        if (!b) return finish('budget', `stopped before exceeding the budget of $${g.budgetUsd}: spent $${budget.spentUsd.toFixed(4)}, ${kept}/${g.target} kept`);
        open.push(b);
      }
      for (const b of open) {
        const state = await drive(b, false);
        if (state?.status === 'failed') {
          throw new ApiError(`batch ${state.id} failed validation: ${state.errors.join('; ') || 'no reason given'}`, undefined, 'check --model and the sampling settings against what the endpoint accepts, then run the same command again');
        }
      }
    }
  } catch (err) {
    if (ctx.signal.aborted) return finish('interrupted', `interrupted at ${kept}/${g.target} kept;${running()}`);
    throw err;
  }
}

function pricedWithoutBatchPrices(config: ForgeConfig, model: string): boolean {
  return config.prices[model] !== undefined && !hasBatchPrices(config.prices, model);
}
