import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ApiError } from '../errors.js';
import type { BatchRound } from '../store/run-store.js';
import { sleep } from '../llm/retry-policy.js';
import { terminalBatchStatuses, type BatchApi, type BatchState } from './batch-api.js';
import { parseBatchOutput, type BatchOutcome } from './batch-file.js';
import type { BatchOutcomeSummary, BatchRoundState } from './batch-round-state.js';

/**
 * Rounds through the Batch API until the target, the budget or the method's end: each round is written, uploaded,
 * submitted, polled and ingested before the next is built (self-instruct shows each request the run's own kept
 * tasks). With `cancel`, the open batches are cancelled and what they answered is ingested.
 */
export async function runApiRounds(s: BatchRoundState, api: BatchApi, cancel: boolean): Promise<BatchOutcomeSummary> {
  const { store, g, signal } = s.ctx;
  for (;;) {
    if (signal.aborted) return interrupted(s);
    const open = store.openBatches().filter((b) => b.kind === 'api');
    if (cancel) {
      for (const b of open) await drive(s, api, b, true);
      return s.finish('cancelled', `cancelled ${open.length} batch(es); what they had answered is ingested: ${s.kept}/${g.target} kept`);
    }
    if (open.length === 0) {
      if (s.kept >= g.target) return s.finish('target', `target reached: ${s.kept} kept samples`);
      const b = s.prepareRound('api', null, api.baseURL);
      if (!b && !s.budgetHit) return s.nothingToSend();
      if (!b) return s.finish('budget', `stopped before exceeding the budget of $${g.budgetUsd}: spent $${s.budget.spentUsd.toFixed(4)}, ${s.kept}/${g.target} kept`);
      open.push(b);
    }
    for (const b of open) {
      const state = await drive(s, api, b, false);
      if (state?.status === 'failed') {
        throw new ApiError(`batch ${state.id} failed validation: ${state.errors.join('; ') || 'no reason given'}`, undefined, 'check --model and the sampling settings against what the endpoint accepts, then run the same command again');
      }
    }
  }
}

/** The outcome of a run stopped by Ctrl-C: the batches it left keep running at the endpoint. */
export function interrupted(s: BatchRoundState): BatchOutcomeSummary {
  const open = s.ctx.store.openBatches().filter((b) => b.kind === 'api' && b.batchId);
  const next = open.length
    ? ` batch ${open.map((b) => b.batchId).join(', ')} keeps running at the endpoint: rerun the same command to resume polling it, or add --cancel-batches to cancel it`
    : ' rerun the same command to resume';
  return s.finish('interrupted', `interrupted at ${s.kept}/${s.ctx.g.target} kept;${next}`);
}

/** Upload → create (or adopt) → poll → download → ingest; returns the batch's final state. */
async function drive(s: BatchRoundState, api: BatchApi, b: BatchRound, cancel: boolean): Promise<BatchState | null> {
  const { store, g, signal } = s.ctx;
  let round = b;
  if (!round.inputFileId) {
    const fileId = await api.upload(basename(round.inputPath), readFileSync(round.inputPath, 'utf8'), signal);
    store.updateBatch(round.round, { inputFileId: fileId, status: 'uploaded' });
    round = store.batch(round.round)!;
  }
  if (!round.batchId) {
    if (cancel) {
      const existing = await api.findByInputFile(round.inputFileId!, signal);
      if (!existing) {
        await s.closeRound(round, 'cancelled before the batch was submitted');
        s.batchEvent(round, 'cancelled', `round ${round.round}: cancelled before it was submitted`);
        return null;
      }
      store.updateBatch(round.round, { batchId: existing.id, status: existing.status });
    } else {
      // A kill between create and recording its id must not submit the same requests twice.
      const state = (await api.findByInputFile(round.inputFileId!, signal)) ?? (await api.create(round.inputFileId!, { forge_run: s.runTag, forge_round: String(round.round) }, signal));
      store.updateBatch(round.round, { batchId: state.id, status: state.status });
    }
    round = store.batch(round.round)!;
    s.batchEvent(round, round.status, `round ${round.round}: batch ${round.batchId} submitted (${round.lastRequest - round.firstRequest + 1} requests)`);
  }
  let state = await api.retrieve(round.batchId!, signal);
  if (cancel && !terminalBatchStatuses.has(state.status)) {
    state = await api.cancel(round.batchId!, signal);
    s.batchEvent(round, state.status, `round ${round.round}: cancelling batch ${round.batchId}`);
  }
  let waitMs = g.batch.pollSeconds * 1000;
  while (!terminalBatchStatuses.has(state.status)) {
    if (state.status !== round.status) {
      store.updateBatch(round.round, { status: state.status });
      round = store.batch(round.round)!;
      s.batchEvent(round, state.status, `round ${round.round}: batch ${round.batchId} is ${state.status}`);
    }
    s.progress(round.lastRequest - round.firstRequest + 1);
    await sleep(waitMs, signal);
    waitMs = Math.min(waitMs * 1.5, g.batch.maxPollSeconds * 1000);
    state = await api.retrieve(round.batchId!, signal);
  }
  store.updateBatch(round.round, { status: state.status, outputFileId: state.outputFileId, errorFileId: state.errorFileId });
  const outcomes: BatchOutcome[] = [];
  for (const fileId of [state.outputFileId, state.errorFileId]) {
    if (fileId) outcomes.push(...parseBatchOutput(await api.download(fileId, signal), `batch ${state.id} file ${fileId}`));
  }
  const { ingested } = await s.ingestOutcomes(round, outcomes, `batch ${state.id}`);
  await s.closeRound(round, unansweredReason(state));
  s.batchEvent(round, state.status, `round ${round.round}: batch ${state.id} ${state.status}; ${ingested} results ingested, ${s.kept}/${g.target} kept`);
  s.progress(0);
  return state;
}

/** Why a finished batch left a request without a result. */
function unansweredReason(state: BatchState): string {
  if (state.status === 'expired') return 'batch expired: not run within the 24 h completion window';
  if (state.status === 'failed') return `batch failed: ${state.errors.join('; ') || 'no reason given'}`;
  if (state.status === 'cancelled') return 'batch cancelled before this request ran';
  return 'missing from the batch output and error files';
}
