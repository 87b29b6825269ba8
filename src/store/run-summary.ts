import { z } from 'zod';
import { langSchema, type Lang } from '../data/sample.js';
import type { RunConnection } from './run-connection.js';
import type { RunMeta } from './run-meta.js';

export interface RunSummary {
  byStatus: Record<string, number>;
  byReason: Record<string, number>;
  byReview: Record<string, number>;
  requests: { total: number; ok: number; failed: number; inFlight: number; abandoned: number; queued: number };
  judgeRequests: number;
  /** Embeddings requests of semantic dedup (their tokens and cost are in the totals). */
  embedRequests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  startedAt: string | null;
  elapsedMs: number;
  target: number | null;
  lang: Lang;
}

const statusGroupRowSchema = z.object({ status: z.string(), n: z.number() });
const reasonGroupRowSchema = z.object({ reason: z.string(), n: z.number() });
const unstoredRowSchema = z.object({ status: z.string(), reason: z.string(), n: z.number() });
const reviewGroupRowSchema = z.object({ review: z.string(), n: z.number() });
const requestCountsRowSchema = z.object({
  total: z.number(),
  ok: z.number().nullable(),
  failed: z.number().nullable(),
  inFlight: z.number().nullable(),
  abandoned: z.number().nullable(),
  queued: z.number().nullable(),
});
const usageRowSchema = z.object({
  p: z.number(),
  c: z.number(),
  usd: z.number(),
  first: z.string().nullable(),
  last: z.string().nullable(),
  judge: z.number().nullable(),
  embed: z.number().nullable(),
});

/** Counts of a run by status, reason and review, its requests, tokens, cost and time: aggregate queries only. */
export function summarizeRun(c: RunConnection, meta: RunMeta): RunSummary {
  const byStatus: Record<string, number> = {};
  for (const row of c.sql('SELECT status, COUNT(*) AS n FROM items GROUP BY status').all()) {
    const r = c.row(statusGroupRowSchema, row);
    byStatus[r.status] = r.n;
  }
  const byReason: Record<string, number> = {};
  for (const row of c.sql(`SELECT reason, COUNT(*) AS n FROM items WHERE reason IS NOT NULL GROUP BY reason ORDER BY n DESC`).all()) {
    const r = c.row(reasonGroupRowSchema, row);
    byReason[r.reason] = r.n;
  }
  // Items counted but not stored (generation.storeRejected): in the totals as if they were.
  for (const row of c.sql('SELECT status, reason, n FROM unstored_items').all()) {
    const r = c.row(unstoredRowSchema, row);
    byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
    byReason[r.reason] = (byReason[r.reason] ?? 0) + r.n;
  }
  const byReasonDesc = Object.fromEntries(Object.entries(byReason).sort((x, y) => y[1] - x[1]));
  const byReview: Record<string, number> = {};
  for (const row of c.sql(`SELECT COALESCE(review, 'pending') AS review, COUNT(*) AS n FROM items GROUP BY 1`).all()) {
    const r = c.row(reviewGroupRowSchema, row);
    byReview[r.review] = r.n;
  }
  const req = c.row(
    requestCountsRowSchema,
    c
      .sql(
        `SELECT COUNT(*) AS total,
                SUM(status = 'ok') AS ok, SUM(status = 'failed') AS failed,
                SUM(status = 'in_flight') AS inFlight, SUM(status = 'abandoned') AS abandoned, SUM(status = 'queued') AS queued
         FROM requests WHERE kind = 'generate'`,
      )
      .get(),
  );
  const tok = c.row(
    usageRowSchema,
    c
      .sql(
        `SELECT COALESCE(SUM(prompt_tokens),0) AS p, COALESCE(SUM(completion_tokens),0) AS c, COALESCE(SUM(cost_usd),0) AS usd,
                MIN(started_at) AS first, MAX(finished_at) AS last, SUM(kind = 'judge') AS judge, SUM(kind = 'embed') AS embed FROM requests`,
      )
      .get(),
  );
  const elapsedStored = Number(meta.get('elapsed_ms') ?? 'NaN');
  const target = meta.get('target');
  return {
    byStatus,
    byReason: byReasonDesc,
    byReview,
    requests: { total: req.total, ok: req.ok ?? 0, failed: req.failed ?? 0, inFlight: req.inFlight ?? 0, abandoned: req.abandoned ?? 0, queued: req.queued ?? 0 },
    judgeRequests: tok.judge ?? 0,
    embedRequests: tok.embed ?? 0,
    promptTokens: tok.p,
    completionTokens: tok.c,
    costUsd: tok.usd,
    startedAt: tok.first,
    elapsedMs: Number.isFinite(elapsedStored) ? elapsedStored : tok.first && tok.last ? Date.parse(tok.last) - Date.parse(tok.first) : 0,
    target: target === undefined ? null : Number(target),
    lang: langSchema.catch('en').parse(meta.get('lang')),
  };
}
