import { join } from 'node:path';
import type { ForgeConfig } from '../config/schema.js';
import type { GenerationConfig } from '../config/generation.js';
import { DataError } from '../errors.js';
import type { GenerateEvent, GenerationStopReason, SamplePreview } from '../events.js';
import type { BatchRound, RunStore } from '../store/run-store.js';
import { writeAll, writeOutputWith } from '../io/write-output.js';
import { BudgetTracker, costOf, worstCaseUsd } from '../llm/budget.js';
import { batchCompletionLine, batchInputLine, batchRequestBody, customIdFor, requestIdFrom, type BatchOutcome } from './batch-file.js';
import type { IngestPipeline } from './ingest-pipeline.js';
import { commitMessage, type GenerationJobs, type JobRequest } from './generation-jobs.js';
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
  /** The message of a run whose method ran out of work short of the target (evol's rounds done). */
  exhaustedMessage?: (kept: number) => string;
}

export type BatchOutcomeSummary = { reason: GenerationStopReason; kept: number; message: string };

/**
 * One batch-mode process's view of its run: what it has kept, spent and counted, and the three things every way of
 * running rounds does with it (Batch API, --emit-batch, --ingest-batch): write a round, ingest a round's answers,
 * close a round. Each round is recorded (its requests 'queued') before anything is sent, and a line is ingested
 * only while its request is still queued, so a process killed at any moment resumes where it was.
 */
export class BatchRoundState {
  kept: number;
  readonly runTag: string;
  readonly budget: BudgetTracker;
  /** Whether the last prepareRound stopped at the budget (rather than running out of work). */
  budgetHit = false;
  private readonly yields: YieldEstimator;
  // Next steps of jobs whose answer came in (an evolution's response), and a job the budget held back: first in the next round.
  private readonly held: Array<{ job: unknown; request: JobRequest }> = [];
  private readonly latest: SamplePreview[] = [];
  // Worst cases reserved by rounds this process prepared, released when the round closes (its real cost counted).
  private readonly reservedByRound = new Map<number, number>();
  private readonly rejections: Record<string, number> = {};
  // What the answers ingested since the last round was prepared kept: the next round is sized from it.
  private seen: RoundYield = { answers: 0, kept: 0 };
  private requestsDone = 0;
  private requestsFailed = 0;
  private promptTokens = 0;
  private completionTokens = 0;
  private readonly started = Date.now();

  constructor(readonly ctx: BatchRoundsContext, runTag: string) {
    const { store, g } = ctx;
    this.kept = ctx.kept;
    this.runTag = runTag;
    this.budget = new BudgetTracker(g.budgetUsd ?? undefined, store.spentUsd());
    this.yields = new YieldEstimator(Math.max(2, g.batch.maxRequests), ctx.jobs.itemsPerJob);
  }

  progress(queued: number): void {
    const g = this.ctx.g;
    const seconds = Math.max((Date.now() - this.started) / 1000, 1e-3);
    this.ctx.emit({
      type: 'progress',
      kept: this.kept,
      target: g.target,
      requestsDone: this.requestsDone,
      requestsFailed: this.requestsFailed,
      inFlight: queued,
      requestsPerSec: this.requestsDone / seconds,
      tokensPerSec: (this.promptTokens + this.completionTokens) / seconds,
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      costUsd: this.budget.spentUsd,
      budgetUsd: g.budgetUsd,
      etaSec: null,
      elapsedSec: (Date.now() - this.started) / 1000,
      rejections: { ...this.rejections },
    });
  }

  batchEvent(b: BatchRound, status: string, message: string): void {
    this.ctx.emit({ type: 'batch', round: b.round, batchId: this.ctx.store.batch(b.round)?.batchId ?? b.batchId, status, requests: b.lastRequest - b.firstRequest + 1, message });
  }

  /**
   * Builds, writes and records one round, to `path` or the run's batches/ folder; null when there is nothing to
   * send or the budget leaves room for no request (budgetHit says which). `baseURL` is the Batch API's, for its
   * request bodies; null for offline files.
   */
  prepareRound(kind: 'api' | 'file', path: string | null, baseURL: string | null): BatchRound | null {
    const { store, g, jobs, config } = this.ctx;
    const n = Math.min(requestsToFill({ remaining: g.target - this.kept, pendingAnswers: 0, concurrency: g.batch.maxRequests, yields: this.yields }), batchRoundCap(g.target - this.kept, this.seen));
    this.seen = { answers: 0, kept: 0 };
    let id = store.nextRequestId();
    const lines: string[] = [];
    const requests: Array<{ id: number; examples: unknown }> = [];
    let reserved = 0;
    this.budgetHit = false;
    for (let i = 0; i < Math.max(n, this.held.length); i++) {
      const next = this.held.shift() ?? jobs.start(this.kept);
      if (!next) break;
      const req = next.request;
      const model = req.model ?? g.model;
      const maxTokens = req.maxTokens ?? g.maxTokens;
      // Worst case at the batch price, as the request loop reserves it online.
      const reserve = worstCaseUsd(config.prices, model, req.completion ? [{ content: req.completion.prompt }] : req.messages, maxTokens, 'batch');
      if (this.budget.wouldExceed(reserve)) {
        this.held.unshift(next);
        this.budgetHit = true;
        break;
      }
      this.budget.reserve(reserve);
      reserved += reserve;
      const seed = g.seed !== null ? g.seed + id : null;
      lines.push(
        req.completion
          ? batchCompletionLine(customIdFor(this.runTag, id), { model, prompt: req.completion.prompt, stop: req.completion.stop, temperature: g.temperature, top_p: g.topP, max_tokens: maxTokens, ...(seed !== null ? { seed } : {}) })
          : batchInputLine(customIdFor(this.runTag, id), batchRequestBody(kind === 'api' ? baseURL : null, { model, messages: req.messages, temperature: g.temperature, topP: g.topP, maxTokens, seed })),
      );
      requests.push({ id, examples: req.provenance });
      id++;
    }
    if (requests.length === 0) {
      this.budget.settle(reserved, 0);
      return null;
    }
    const file = path ?? join(this.ctx.runDir, 'batches', `requests-${requests[0]!.id}.jsonl`);
    // Written whole before the round is recorded: a kill in between leaves a file the next round overwrites.
    writeOutputWith(file, (fd) => writeAll(fd, Buffer.from(`${lines.join('\n')}\n`, 'utf8')), { label: path === null ? 'batch file' : '--emit-batch' });
    const round = store.queueBatch({ kind, inputPath: file, requests });
    this.reservedByRound.set(round, reserved);
    const b = store.batch(round)!;
    this.batchEvent(b, 'prepared', `round ${round}: ${requests.length} requests written to ${file}`);
    return b;
  }

  /** Curates one round's results (output and error files together); requests with no result stay queued. */
  async ingestOutcomes(b: BatchRound, outcomes: BatchOutcome[], source: string): Promise<{ ingested: number; skipped: number }> {
    const { store, g, jobs, ingest, config } = this.ctx;
    const queued = new Map(store.queuedRequests(b.round).map((r) => [r.id, r]));
    const byId = new Map<number, BatchOutcome>();
    for (const o of outcomes) {
      const id = requestIdFrom(this.runTag, o.customId);
      if (id === null) throw new DataError(`${source}: custom_id "${o.customId}" is not from this run (its requests are named ${this.runTag}-N)`, 'ingest the output of a file this run wrote with --emit-batch');
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
        this.requestsFailed++;
        ingest.send({ type: 'fail', requestId: id, error: o.error });
        jobs.failed(jobs.revive(req.examples));
        continue;
      }
      const costUsd = costOf(config.prices, g.model, o.promptTokens, o.completionTokens, 'batch');
      this.requestsDone++;
      this.promptTokens += o.promptTokens;
      this.completionTokens += o.completionTokens;
      this.budget.add(costUsd);
      const job = jobs.revive(req.examples);
      const { commit, then, precheck } = jobs.answer(job, { text: o.text, finishReason: o.finishReason });
      const result = { raw: o.text, finishReason: o.finishReason, promptTokens: o.promptTokens, completionTokens: o.completionTokens, costUsd };
      pending.push(
        ingest
          .complete(commitMessage(id, result, commit, then ? precheck : undefined))
          .then((done) => {
            if (then && !done.settled) {
              this.held.push({ job, request: then });
              return;
            }
            jobs.committed(job, done);
            this.kept = Math.max(this.kept, done.kept);
            this.yields.observe(done.keptNow);
            this.seen = { answers: this.seen.answers + 1, kept: this.seen.kept + done.keptNow };
            for (const [reason, n] of Object.entries(done.rejections)) this.rejections[reason] = (this.rejections[reason] ?? 0) + n;
            for (const item of done.keptSamples) this.latest.unshift(item);
            this.latest.length = Math.min(this.latest.length, 10);
          }),
      );
    }
    await Promise.all(pending);
    await ingest.flush();
    if (this.latest.length) this.ctx.emit({ type: 'samples', latest: this.latest.slice(0, 5) });
    return { ingested: byId.size - skipped, skipped };
  }

  /** Marks what a finished batch did not answer as failed, and closes the round. */
  async closeRound(b: BatchRound, why: string): Promise<void> {
    const { store, jobs, ingest } = this.ctx;
    for (const r of store.queuedRequests(b.round)) {
      this.requestsFailed++;
      ingest.send({ type: 'fail', requestId: r.id, error: why });
      jobs.failed(jobs.revive(r.examples));
    }
    await ingest.flush();
    store.markBatchIngested(b.round);
    this.budget.settle(this.reservedByRound.get(b.round) ?? 0, 0);
    this.reservedByRound.delete(b.round);
  }

  finish(reason: GenerationStopReason, message: string): BatchOutcomeSummary {
    this.progress(0);
    this.ctx.emit({ type: 'done', reason, kept: this.kept, target: this.ctx.g.target, costUsd: this.budget.spentUsd, message });
    return { reason, kept: this.kept, message };
  }

  /** No request to send and none held back by the budget: the method's work is done, or waits on answers of earlier rounds. */
  nothingToSend(): BatchOutcomeSummary {
    const { store, jobs, g } = this.ctx;
    const waiting = store.openBatches().reduce((n, b) => n + store.queuedRequests(b.round).length, 0);
    if (waiting > 0) return this.finish('batch-pending', `nothing new to send: ${waiting} requests of earlier rounds still wait for results (evol's next round starts from this round's kept items) — ingest them first with --ingest-batch FILE`);
    return this.finish('exhausted', this.ctx.exhaustedMessage?.(this.kept) ?? `${jobs.name} has no more work: ${this.kept}/${g.target} kept`);
  }
}
