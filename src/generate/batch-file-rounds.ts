import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';
import type { BatchRound } from '../store/run-store.js';
import { parseBatchOutput, requestIdFrom } from './batch-file.js';
import type { BatchOutcomeSummary, BatchRoundState } from './batch-round-state.js';

/** --emit-batch FILE: writes the next round for an offline engine (vLLM's run_batch) and records it. */
export function emitRound(s: BatchRoundState, file: string): BatchOutcomeSummary {
  const { g, runDir } = s.ctx;
  if (s.kept >= g.target) return s.finish('target', `target reached: ${s.kept} kept samples; nothing to emit`);
  const b = s.prepareRound('file', file, null);
  if (!b && !s.budgetHit) return s.nothingToSend();
  if (!b) return s.finish('budget', `no request fits in the budget of $${g.budgetUsd}: spent $${s.budget.spentUsd.toFixed(4)}`);
  const n = b.lastRequest - b.firstRequest + 1;
  return s.finish('batch-pending', `wrote ${n} requests to ${file}; run them (e.g. vLLM's run_batch), then: alpaca-forge generate --run ${runDir} --ingest-batch OUTPUT.jsonl`);
}

/**
 * --ingest-batch FILE: the engine's output for the open offline rounds. All or nothing: a file holding lines of no
 * request of this run is the wrong file (or an edited one), and ingesting the rest of it first would leave the run
 * half-fed by it.
 */
export async function ingestBatchFile(s: BatchRoundState, file: string): Promise<BatchOutcomeSummary> {
  const { store, g, runDir } = s.ctx;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'pass the output JSONL of the batch');
  }
  const outcomes = parseBatchOutput(text, file);
  const rounds = store.openBatches().filter((b) => b.kind === 'file');
  if (rounds.length === 0) throw new DataError(`${runDir}: no round is waiting for results`, 'write one first with --emit-batch FILE');
  const inRound = (id: number, b: BatchRound) => id >= b.firstRequest && id <= b.lastRequest;
  const everRound = store.batches();
  const strangers = outcomes.filter((o) => {
    const id = requestIdFrom(s.runTag, o.customId);
    return id === null || !everRound.some((b) => inRound(id, b));
  });
  if (strangers.length > 0) {
    const first = strangers[0]!.customId;
    const why = requestIdFrom(s.runTag, first) === null ? `is not from this run (its requests are named ${s.runTag}-N)` : 'is not a request this run wrote';
    throw new DataError(
      `${file}: custom_id "${first}" ${why}; ${strangers.length} of its ${outcomes.length} lines name no request of this run, so nothing was ingested`,
      'ingest the output of a file this run wrote with --emit-batch, unedited',
    );
  }
  let ingested = 0;
  let skipped = 0;
  for (const b of rounds) {
    const mine = outcomes.filter((o) => inRound(requestIdFrom(s.runTag, o.customId)!, b));
    const r = await s.ingestOutcomes(b, mine, file);
    ingested += r.ingested;
    skipped += r.skipped;
    if (store.queuedRequests(b.round).length === 0) store.markBatchIngested(b.round);
  }
  // Lines of rounds closed before: answered already.
  skipped += outcomes.filter((o) => !rounds.some((b) => inRound(requestIdFrom(s.runTag, o.customId)!, b))).length;
  const waiting = store.openBatches().filter((b) => b.kind === 'file').reduce((n, b) => n + store.queuedRequests(b.round).length, 0);
  const note = `ingested ${ingested} results from ${file}${skipped ? ` (${skipped} already ingested, skipped)` : ''}${waiting ? `; ${waiting} requests still wait for results` : ''}`;
  return s.kept >= g.target ? s.finish('target', `${note}; target reached: ${s.kept} kept samples`) : s.finish('batch-pending', `${note}; ${s.kept}/${g.target} kept — write the next round with --emit-batch FILE`);
}
