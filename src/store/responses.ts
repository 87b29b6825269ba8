import type Database from 'better-sqlite3';
import { z } from 'zod';
import { StoreError, type RunStore } from './run-store.js';

/**
 * Candidate responses of a run's items and the rankings of them (DPO data), in the run's own database.
 * Like generation's requests, a response row is written 'in_flight' before its request goes out and completed in
 * one statement when the answer arrives; a kill leaves it in flight, and the next run marks it abandoned and asks
 * again. The partial unique index on (item_id, idx) over live rows makes a duplicated slot impossible.
 */

export const responseStatuses = ['in_flight', 'ok', 'failed', 'abandoned'] as const;
export type ResponseStatus = (typeof responseStatuses)[number];

/** Sampling settings a response was made with; null where the endpoint's default applied. */
export const samplingSchema = z.object({
  temperature: z.number().nullable(),
  topP: z.number().nullable(),
  maxTokens: z.number().int().nullable(),
  seed: z.number().int().nullable(),
});
export type Sampling = z.infer<typeof samplingSchema>;

/** UltraFeedback-style aspects, each rated 1–10 by the judge (curate --rank). */
export const ratingSchema = z.object({
  helpfulness: z.number().min(1).max(10),
  honesty: z.number().min(1).max(10),
  instructionFollowing: z.number().min(1).max(10),
});
export type Ratings = z.infer<typeof ratingSchema>;

export interface StoredResponse {
  id: number;
  itemId: number;
  idx: number;
  /** 'sample': the item's own output (idx 0); 'model': asked for by `respond`. */
  source: 'sample' | 'model';
  /** The model asked, then the one that answered as the API names it (a server may resolve an alias). */
  model: string;
  /** The endpoint that answered (endpointOf: no key, no query); null for the sample's own output and older runs. */
  endpoint: string | null;
  sampling: Sampling;
  status: ResponseStatus;
  text: string | null;
  finishReason: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  /** Mean of the judge's aspect ratings; null when not rated (or the judge's answer stayed unreadable). */
  rating: number | null;
  ratings: Ratings | null;
  ratingReason: string | null;
}

/** Response ids, best tier first; responses in one tier are tied. */
export const tiersSchema = z.array(z.array(z.number().int()).min(1));
export type Tiers = z.infer<typeof tiersSchema>;

export type RankingSource = 'judge' | 'human';
/** 'order': every response placed; 'best-worst': best and worst picked, the rest between; 'skip': decide later. */
export type RankingKind = 'order' | 'best-worst' | 'skip';

export interface StoredRanking {
  id: number;
  itemId: number;
  source: RankingSource;
  kind: RankingKind;
  tiers: Tiers | null;
  /** Responses sharing a tier with another (0 = a strict order). */
  ties: number;
  createdAt: string;
}

export interface ResponseCounts {
  ok: number;
  failed: number;
  abandoned: number;
  inFlight: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

interface ResponseRow {
  id: number;
  item_id: number;
  idx: number;
  source: string;
  model: string;
  endpoint: string | null;
  sampling_json: string;
  status: string;
  text: string | null;
  finish_reason: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  rating: number | null;
  rating_json: string | null;
  rating_reason: string | null;
}

interface RankingRow {
  id: number;
  item_id: number;
  source: string;
  kind: string;
  tiers_json: string | null;
  ties: number;
  created_at: string;
}

const now = () => new Date().toISOString();

/** Responses sharing a tier with at least one other. */
export function tiedCount(tiers: Tiers): number {
  return tiers.reduce((n, t) => n + (t.length > 1 ? t.length : 0), 0);
}

export class ResponseStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  /** Shares the run store's connection (and so its transactions and its lifetime). */
  constructor(readonly run: RunStore) {
    this.db = run.connection;
  }

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  // ---- responses ----
  /** The item's own output as response idx 0; does nothing if that slot is already filled. Returns whether it wrote. */
  addSampleResponse(itemId: number, text: string, model: string, sampling: Sampling): boolean {
    const at = now();
    const r = this.sql(
      `INSERT OR IGNORE INTO responses(item_id, idx, source, model, sampling_json, status, text, finish_reason, created_at, finished_at)
       VALUES (?, 0, 'sample', ?, ?, 'ok', ?, 'stop', ?, ?)`,
    ).run(itemId, model, JSON.stringify(sampling), text, at, at);
    return r.changes > 0;
  }

  /** A request for slot (itemId, idx) is about to go out; throws if the slot already has a live response. */
  beginResponse(itemId: number, idx: number, model: string, sampling: Sampling): number {
    try {
      const r = this.sql(`INSERT INTO responses(item_id, idx, source, model, sampling_json, status, created_at) VALUES (?, ?, 'model', ?, ?, 'in_flight', ?)`).run(
        itemId,
        idx,
        model,
        JSON.stringify(sampling),
        now(),
      );
      return Number(r.lastInsertRowid);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreError(`response ${idx} of item ${itemId} already exists in ${this.run.path}`, 'is another `alpaca-forge respond` running on this run?');
      }
      throw e;
    }
  }

  /** The request went to this endpoint and model (again, when a pool moves it off an endpoint that is down or refuses). */
  routeResponse(id: number, endpoint: string, model: string): void {
    this.sql(`UPDATE responses SET endpoint = ?, model = ? WHERE id = ? AND status = 'in_flight'`).run(endpoint, model, id);
  }

  /** `model`: as the answer names it; absent, the one recorded when the request went out stays. */
  completeResponse(id: number, r: { text: string; finishReason: string | null; promptTokens: number; completionTokens: number; costUsd: number; model?: string }): void {
    this.sql(
      `UPDATE responses SET status = 'ok', text = ?, finish_reason = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ?, model = COALESCE(?, model), finished_at = ? WHERE id = ? AND status = 'in_flight'`,
    ).run(r.text, r.finishReason, r.promptTokens, r.completionTokens, r.costUsd, r.model ?? null, now(), id);
  }

  /**
   * Failed every retry, or answered with what is no response (cut off at max tokens: `answer` keeps its text and what
   * it cost): kept as history; the slot is free for the next run.
   */
  failResponse(id: number, error: string, answer?: { text: string; finishReason: string | null; promptTokens: number; completionTokens: number; costUsd: number; model?: string }): void {
    if (!answer) {
      this.sql(`UPDATE responses SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'in_flight'`).run(error, now(), id);
      return;
    }
    this.sql(
      `UPDATE responses SET status = 'failed', error = ?, text = ?, finish_reason = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ?, model = COALESCE(?, model), finished_at = ? WHERE id = ? AND status = 'in_flight'`,
    ).run(error, answer.text, answer.finishReason, answer.promptTokens, answer.completionTokens, answer.costUsd, answer.model ?? null, now(), id);
  }

  /** Stopped before its answer arrived (Ctrl-C): it counts for nothing, like one cut off by a kill. */
  abandonResponse(id: number, why: string): void {
    this.sql(`UPDATE responses SET status = 'abandoned', error = ?, finished_at = ? WHERE id = ? AND status = 'in_flight'`).run(why, now(), id);
  }

  /** Responses left in flight by a killed process: their answers never arrived. */
  abandonInFlight(): number {
    return this.sql(`UPDATE responses SET status = 'abandoned', error = 'left in flight by a stopped run', finished_at = ? WHERE status = 'in_flight'`).run(now()).changes;
  }

  /** Filled slots (status ok) by item id. */
  filledSlots(): Map<number, Set<number>> {
    const m = new Map<number, Set<number>>();
    for (const r of this.sql(`SELECT item_id, idx FROM responses WHERE status = 'ok'`).all() as Array<{ item_id: number; idx: number }>) {
      let s = m.get(r.item_id);
      if (!s) m.set(r.item_id, (s = new Set()));
      s.add(r.idx);
    }
    return m;
  }

  /** Responses in (item, idx) order; by default only the usable ones (status ok). */
  listResponses(filter: { itemId?: number; status?: ResponseStatus[] } = {}): StoredResponse[] {
    const status = filter.status ?? ['ok'];
    const where = [`status IN (${status.map(() => '?').join(',')})`];
    const params: unknown[] = [...status];
    if (filter.itemId !== undefined) {
      where.push('item_id = ?');
      params.push(filter.itemId);
    }
    return (this.sql(`SELECT * FROM responses WHERE ${where.join(' AND ')} ORDER BY item_id, idx, id`).all(...params) as ResponseRow[]).map(toResponse);
  }

  /** Usable responses grouped by item id. */
  responsesByItem(): Map<number, StoredResponse[]> {
    const m = new Map<number, StoredResponse[]>();
    for (const r of this.listResponses()) {
      const list = m.get(r.itemId);
      if (list) list.push(r);
      else m.set(r.itemId, [r]);
    }
    return m;
  }

  counts(): ResponseCounts {
    const r = this.sql(
      `SELECT SUM(status = 'ok') AS ok, SUM(status = 'failed') AS failed, SUM(status = 'abandoned') AS abandoned, SUM(status = 'in_flight') AS inFlight,
              COALESCE(SUM(prompt_tokens), 0) AS p, COALESCE(SUM(completion_tokens), 0) AS c, COALESCE(SUM(cost_usd), 0) AS usd FROM responses`,
    ).get() as { ok: number | null; failed: number | null; abandoned: number | null; inFlight: number | null; p: number; c: number; usd: number };
    return { ok: r.ok ?? 0, failed: r.failed ?? 0, abandoned: r.abandoned ?? 0, inFlight: r.inFlight ?? 0, promptTokens: r.p, completionTokens: r.c, costUsd: r.usd };
  }

  // ---- judge ratings ----
  setRating(id: number, ratings: Ratings | null, rating: number | null, reason: string): void {
    this.sql('UPDATE responses SET rating = ?, rating_json = ?, rating_reason = ? WHERE id = ?').run(rating, ratings ? JSON.stringify(ratings) : null, reason, id);
  }

  /** One rating request, in the run's request log (kind 'rank'), so its tokens and cost count in the run's totals. */
  recordRankRequest(r: { itemId: number; promptTokens: number; completionTokens: number; costUsd: number; raw: string; ok: boolean; model?: string; endpoint?: string }): void {
    const at = now();
    this.sql(
      `INSERT INTO requests(kind, status, started_at, finished_at, raw_response, prompt_tokens, completion_tokens, cost_usd, item_id, model, endpoint) VALUES ('rank', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(r.ok ? 'ok' : 'failed', at, at, r.raw, r.promptTokens, r.completionTokens, r.costUsd, r.itemId, r.model ?? null, r.endpoint ?? null);
  }

  // ---- rankings ----
  /** Records a person's decision on an item; the latest one not undone is the item's human ranking. */
  addHumanRanking(itemId: number, kind: RankingKind, tiers: Tiers | null): StoredRanking {
    const r = this.sql(`INSERT INTO rankings(item_id, source, kind, tiers_json, ties, created_at) VALUES (?, 'human', ?, ?, ?, ?)`).run(
      itemId,
      kind,
      tiers ? JSON.stringify(tiers) : null,
      tiers ? tiedCount(tiers) : 0,
      now(),
    );
    return this.ranking(Number(r.lastInsertRowid))!;
  }

  /** The judge's order of an item's responses; replaces the judge's earlier one (kept, marked superseded). */
  setJudgeRanking(itemId: number, tiers: Tiers): void {
    this.db.transaction(() => {
      this.sql(`UPDATE rankings SET undone = 1 WHERE item_id = ? AND source = 'judge' AND undone = 0`).run(itemId);
      this.sql(`INSERT INTO rankings(item_id, source, kind, tiers_json, ties, created_at) VALUES (?, 'judge', 'order', ?, ?, ?)`).run(itemId, JSON.stringify(tiers), tiedCount(tiers), now());
    })();
  }

  /** Undoes the latest human decision not yet undone; returns it, or null if none is left. */
  undoHumanRanking(): StoredRanking | null {
    const row = this.sql(`SELECT * FROM rankings WHERE source = 'human' AND undone = 0 ORDER BY id DESC LIMIT 1`).get() as RankingRow | undefined;
    if (!row) return null;
    this.sql('UPDATE rankings SET undone = 1 WHERE id = ?').run(row.id);
    return toRanking(row);
  }

  /** The current ranking of each item from one source (the latest row not undone). */
  currentRankings(source: RankingSource): Map<number, StoredRanking> {
    const rows = this.sql(
      `SELECT r.* FROM rankings r JOIN (SELECT item_id, MAX(id) AS id FROM rankings WHERE source = ? AND undone = 0 GROUP BY item_id) m ON r.id = m.id`,
    ).all(source) as RankingRow[];
    return new Map(rows.map((r) => [r.item_id, toRanking(r)]));
  }

  private ranking(id: number): StoredRanking | undefined {
    const row = this.sql('SELECT * FROM rankings WHERE id = ?').get(id) as RankingRow | undefined;
    return row ? toRanking(row) : undefined;
  }
}

function toResponse(r: ResponseRow): StoredResponse {
  return {
    id: r.id,
    itemId: r.item_id,
    idx: r.idx,
    source: r.source === 'sample' ? 'sample' : 'model',
    model: r.model,
    endpoint: r.endpoint,
    sampling: samplingSchema.parse(JSON.parse(r.sampling_json)),
    status: r.status as ResponseStatus,
    text: r.text,
    finishReason: r.finish_reason,
    promptTokens: r.prompt_tokens,
    completionTokens: r.completion_tokens,
    costUsd: r.cost_usd,
    error: r.error,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    rating: r.rating,
    ratings: r.rating_json ? ratingSchema.parse(JSON.parse(r.rating_json)) : null,
    ratingReason: r.rating_reason,
  };
}

function toRanking(r: RankingRow): StoredRanking {
  return {
    id: r.id,
    itemId: r.item_id,
    source: r.source === 'judge' ? 'judge' : 'human',
    kind: r.kind as RankingKind,
    tiers: r.tiers_json ? tiersSchema.parse(JSON.parse(r.tiers_json)) : null,
    ties: r.ties,
    createdAt: r.created_at,
  };
}
