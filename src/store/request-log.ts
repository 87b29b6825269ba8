import { z } from 'zod';
import { now, type RunConnection } from './run-connection.js';
import type { NewItem } from './item-rows.js';

export interface RequestResult {
  raw: string;
  finishReason: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** The model that answered, as the API named it; absent keeps the model recorded when the request began. */
  model?: string | null;
  /** Base URL that answered (never a key); absent keeps the one recorded when the request began. */
  endpoint?: string | null;
}

/** Items of one answer that were counted but not stored (past generation.storeRejected of their reason). */
export interface UnstoredCount {
  status: 'rejected' | 'duplicate' | 'dropped';
  reason: string;
  n: number;
}

/** Where a request is sent: recorded when it begins, so failed requests name their model and endpoint too. */
export interface RequestTarget {
  model: string;
  endpoint: string;
}

/** Requests and tokens by the endpoint and model that answered them. */
export interface EndpointTally {
  endpoint: string;
  model: string;
  ok: number;
  failed: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** From the first request sent there to the last answer. */
  elapsedMs: number;
}

const endpointTallyRowSchema = z.object({
  endpoint: z.string(),
  model: z.string().nullable(),
  ok: z.number().nullable(),
  failed: z.number().nullable(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  costUsd: z.number(),
  first: z.string().nullable(),
  last: z.string().nullable(),
});
const countRowSchema = z.object({ n: z.number() });
const costRowSchema = z.object({ c: z.number() });

/** The run's request log (table requests): every generation and judge request, with its answer, tokens and cost. */
export class RequestLog {
  private commitResponse: ((id: number, r: RequestResult, items: NewItem[], unstored: readonly UnstoredCount[]) => void) | undefined;

  constructor(private readonly c: RunConnection) {}

  begin(examples: unknown, kind: 'generate' | 'judge' = 'generate', id?: number, target?: RequestTarget): number {
    const r = this.c
      .sql('INSERT INTO requests(id, kind, status, started_at, examples_json, model, endpoint) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id ?? null, kind, 'in_flight', now(), JSON.stringify(examples), target?.model ?? null, target?.endpoint ?? null);
    return Number(r.lastInsertRowid);
  }

  /** The next free request id (generation hands ids out before the ingest thread writes the rows). */
  nextId(): number {
    return this.c.row(countRowSchema, this.c.sql('SELECT COALESCE(MAX(id), 0) + 1 AS n FROM requests').get()).n;
  }

  /**
   * Records the response and its items in one transaction: both are there after a crash, or neither. Items counted
   * but not stored go to the per-reason counts; an answer none of whose items is stored keeps no raw text nor the
   * examples it was asked with (its row keeps the tokens, cost and time: the run's spending).
   */
  complete(requestId: number, result: RequestResult, items: NewItem[], unstored: readonly UnstoredCount[] = []): void {
    this.commitResponse ??= this.c.transaction((id: number, r: RequestResult, its: NewItem[], counts: readonly UnstoredCount[]) => {
      const at = now();
      const keepText = its.length > 0 || counts.length === 0;
      this.c
        .sql(
          `UPDATE requests SET status = 'ok', finished_at = ?, raw_response = ?, finish_reason = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ?,
           model = COALESCE(?, model), endpoint = COALESCE(?, endpoint), examples_json = CASE WHEN ? THEN examples_json END WHERE id = ?`,
        )
        .run(at, keepText ? r.raw : null, r.finishReason, r.promptTokens, r.completionTokens, r.costUsd, r.model ?? null, r.endpoint ?? null, keepText ? 1 : 0, id);
      const ins = this.c.sql(
        `INSERT INTO items(id, request_id, idx, instruction, input, output, status, reason, detail, duplicate_of, similarity, similar_json, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      // Positional binding: at 52K items, named binding of a spread object was the largest cost of the commit.
      for (const it of its) {
        ins.run(it.id, id, it.idx, it.instruction, it.input, it.output, it.status, it.reason, it.detail ?? null, it.duplicateOf, it.similarity, it.similar.length ? JSON.stringify(it.similar) : null, at);
      }
      if (counts.length) {
        const add = this.c.sql('INSERT INTO unstored_items(status, reason, n) VALUES (?, ?, ?) ON CONFLICT(status, reason) DO UPDATE SET n = n + excluded.n');
        for (const u of counts) add.run(u.status, u.reason, u.n);
      }
    });
    this.commitResponse(requestId, result, items, unstored);
  }

  fail(requestId: number, error: string, usage?: { promptTokens: number; completionTokens: number; costUsd: number }): void {
    this.c
      .sql(`UPDATE requests SET status = 'failed', finished_at = ?, error = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ? WHERE id = ?`)
      .run(now(), error, usage?.promptTokens ?? 0, usage?.completionTokens ?? 0, usage?.costUsd ?? 0, requestId);
  }

  /** A request stopped before its answer arrived (Ctrl-C): it counts for nothing, like one cut off by a kill. */
  abandon(requestId: number, why: string): void {
    this.c.sql(`UPDATE requests SET status = 'abandoned', finished_at = ?, error = ? WHERE id = ?`).run(now(), why, requestId);
  }

  /** Requests left in flight by a killed process: their answers never arrived, so they count for nothing. */
  abandonInFlight(): number {
    return this.c.sql(`UPDATE requests SET status = 'abandoned', finished_at = ? WHERE status = 'in_flight'`).run(now()).changes;
  }

  /** Which endpoint and model answered (or failed) a request. */
  setEndpoint(requestId: number, endpoint: string, model: string): void {
    this.c.sql('UPDATE requests SET endpoint = ?, model = ? WHERE id = ?').run(endpoint, model, requestId);
  }

  endpointTallies(): EndpointTally[] {
    const rows = this.c
      .sql(
        `SELECT endpoint, model, SUM(status = 'ok') AS ok, SUM(status = 'failed') AS failed, COALESCE(SUM(prompt_tokens), 0) AS promptTokens,
              COALESCE(SUM(completion_tokens), 0) AS completionTokens, COALESCE(SUM(cost_usd), 0) AS costUsd, MIN(started_at) AS first, MAX(finished_at) AS last
       FROM requests WHERE kind = 'generate' AND endpoint IS NOT NULL GROUP BY endpoint, model ORDER BY endpoint, model`,
      )
      .all();
    return rows.map((row) => {
      const { first, last, model, ok, failed, ...t } = this.c.row(endpointTallyRowSchema, row);
      return { ...t, model: model ?? '', ok: ok ?? 0, failed: failed ?? 0, elapsedMs: first && last ? Math.max(0, Date.parse(last) - Date.parse(first)) : 0 };
    });
  }

  spentUsd(): number {
    return this.c.row(costRowSchema, this.c.sql('SELECT COALESCE(SUM(cost_usd), 0) AS c FROM requests').get()).c;
  }

  /**
   * One answered embeddings request (curate --dedup semantic), so its tokens and cost count in the run's totals and
   * against generation.budgetUsd. The vectors themselves are in the embeddings cache, not here.
   */
  recordEmbeddings(r: { texts: number; promptTokens: number; costUsd: number; model: string; endpoint?: string }): void {
    const at = now();
    this.c
      .sql(`INSERT INTO requests(kind, status, started_at, finished_at, raw_response, prompt_tokens, cost_usd, model, endpoint) VALUES ('embed', 'ok', ?, ?, ?, ?, ?, ?, ?)`)
      .run(at, at, `${r.texts} texts`, r.promptTokens, r.costUsd, r.model, r.endpoint ?? null);
  }

  /** One judge request (curate --judge), so its tokens and cost count in the run's totals. */
  recordJudge(r: { itemId: number; promptTokens: number; completionTokens: number; costUsd: number; raw: string; ok: boolean; model?: string; endpoint?: string }): void {
    const at = now();
    this.c
      .sql(
        `INSERT INTO requests(kind, status, started_at, finished_at, raw_response, prompt_tokens, completion_tokens, cost_usd, item_id, model, endpoint) VALUES ('judge', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.ok ? 'ok' : 'failed', at, at, r.raw, r.promptTokens, r.completionTokens, r.costUsd, r.itemId, r.model ?? null, r.endpoint ?? null);
  }
}
