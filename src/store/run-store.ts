import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DataError, ForgeError, StoreError } from '../errors.js';
import { migrations } from './schema-sql.js';
import { langSchema, sampleSchema, type Lang, type Sample } from '../data/sample.js';

export const curationStatuses = ['kept', 'rejected', 'duplicate', 'dropped'] as const;
export type CurationStatus = (typeof curationStatuses)[number];
export const reviewDecisions = ['accepted', 'rejected', 'skipped'] as const;
export type ReviewDecision = (typeof reviewDecisions)[number];

const similarSchema = z.array(z.object({ id: z.string(), score: z.number() }));
export type SimilarRef = z.infer<typeof similarSchema>[number];

/**
 * An items row as SQLite returns it (SELECT *), parsed rather than cast so a database written by another version,
 * or edited by hand, fails with the column at fault instead of showing `undefined` in the review screen. Columns
 * not named here (idx) are dropped. One parse per row: at 52K rows this is within the export budget (bench/export.ts).
 */
const itemRowSchema = z.object({
    id: z.number(),
    request_id: z.number().nullable(),
    instruction: z.string(),
    input: z.string(),
    output: z.string(),
    status: z.enum(curationStatuses),
    reason: z.string().nullable(),
    /** Why, in words: the rule's explanation, the parse error, the judge threshold. */
    detail: z.string().nullable(),
    duplicate_of: z.string().nullable(),
    similarity: z.number().nullable(),
    similar_json: z.string().nullable(),
    judge_score: z.number().nullable(),
    judge_reason: z.string().nullable(),
    review: z.enum(reviewDecisions).nullable(),
    reviewed_at: z.string().nullable(),
    orig_instruction: z.string().nullable(),
    orig_input: z.string().nullable(),
    orig_output: z.string().nullable(),
    created_at: z.string(),
  });
type ItemRow = z.output<typeof itemRowSchema>;

// A plain function after the parse, not a zod transform: a transform took the schema off zod's fast path and cost
// about 8x at 52K rows.
function toItem(r: ItemRow) {
  return {
    id: r.id,
    requestId: r.request_id,
    instruction: r.instruction,
    input: r.input,
    output: r.output,
    status: r.status,
    reason: r.reason,
    detail: r.detail,
    duplicateOf: r.duplicate_of,
    similarity: r.similarity,
    similar: r.similar_json ? similarSchema.parse(JSON.parse(r.similar_json)) : [],
    judgeScore: r.judge_score,
    judgeReason: r.judge_reason,
    review: r.review,
    reviewedAt: r.reviewed_at,
    original: r.orig_instruction === null ? null : { instruction: r.orig_instruction, input: r.orig_input ?? '', output: r.orig_output ?? '' },
    createdAt: r.created_at,
  };
}
/** One item of a run: its text, what curation decided, the judge's score and the reviewer's decision. */
export type StoredItem = ReturnType<typeof toItem>;

/** What curation decides about an item (online in generate, offline in curate). */
export interface CurationFields {
  status: CurationStatus;
  reason: string | null;
  /** Why, in words (the rule's explanation, the parse error…); absent means none. */
  detail?: string | null;
  duplicateOf: string | null;
  similarity: number | null;
  similar: SimilarRef[];
}

export interface NewItem extends Sample, CurationFields {
  id: number;
  idx: number;
}

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

/** Where a request is sent: recorded when it begins, so failed requests name their model and endpoint too. */
export interface RequestTarget {
  model: string;
  endpoint: string;
}

/** A setting of a run changed on resume with --allow-change: what it was and what it became. */
export interface SettingChange {
  setting: string;
  oldValue: string | null;
  newValue: string | null;
}

export interface HistoryEntry extends SettingChange {
  at: string;
}

/** One batch round: a JSONL of requests sent through the Batch API (`api`) or handed to an offline engine (`file`). */
export interface BatchRound {
  round: number;
  kind: 'api' | 'file';
  inputPath: string;
  inputFileId: string | null;
  batchId: string | null;
  /** 'prepared', 'uploaded', then the Batch API's own status (validating, in_progress, completed, expired…). */
  status: string;
  outputFileId: string | null;
  errorFileId: string | null;
  firstRequest: number;
  lastRequest: number;
  createdAt: string;
  updatedAt: string;
  ingestedAt: string | null;
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

const batchRowSchema = z.object({
  round: z.number(),
  kind: z.enum(['api', 'file']),
  input_path: z.string(),
  input_file_id: z.string().nullable(),
  batch_id: z.string().nullable(),
  status: z.string(),
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  first_request: z.number(),
  last_request: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
  ingested_at: z.string().nullable(),
});
type BatchRowDb = z.output<typeof batchRowSchema>;

const historyRowSchema = z.object({ at: z.string(), setting: z.string(), old_value: z.string().nullable(), new_value: z.string().nullable() });
const queuedRequestRowSchema = z.object({ id: z.number(), examples_json: z.string().nullable() });

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

const toBatch = (r: BatchRowDb): BatchRound => ({
  round: r.round,
  kind: r.kind,
  inputPath: r.input_path,
  inputFileId: r.input_file_id,
  batchId: r.batch_id,
  status: r.status,
  outputFileId: r.output_file_id,
  errorFileId: r.error_file_id,
  firstRequest: r.first_request,
  lastRequest: r.last_request,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  ingestedAt: r.ingested_at,
});

export interface RunSummary {
  byStatus: Record<string, number>;
  byReason: Record<string, number>;
  byReview: Record<string, number>;
  requests: { total: number; ok: number; failed: number; inFlight: number; abandoned: number; queued: number };
  judgeRequests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  startedAt: string | null;
  elapsedMs: number;
  target: number | null;
  lang: Lang;
}

export interface CurationUpdate extends CurationFields {
  id: number;
}

const logStateSchema = sampleSchema.extend({
  review: z.enum(reviewDecisions).nullable(),
  reviewedAt: z.string().nullable(),
  original: sampleSchema.nullable(),
});
type LogState = z.infer<typeof logStateSchema>;

// The smaller row shapes the store reads.
const keptTextRowSchema = sampleSchema.extend({ id: z.number() });
const reviewLogRowSchema = z.object({ id: z.number(), item_id: z.number(), before_json: z.string() });
const countRowSchema = z.object({ n: z.number() });
const maxIdRowSchema = z.object({ m: z.number() });
const metaRowSchema = z.object({ value: z.string() });
const costRowSchema = z.object({ c: z.number() });
const statusGroupRowSchema = z.object({ status: z.string(), n: z.number() });
const reasonGroupRowSchema = z.object({ reason: z.string(), n: z.number() });
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
});

/** Parses one row; a row that does not fit says which column, so a damaged database is named as such. */
function parseRow<T extends z.ZodType>(schema: T, row: unknown, path: string): z.output<T> {
  const r = schema.safeParse(row);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new StoreError(
    `${path}: unexpected row${issue ? ` (column ${issue.path.join('.') || '?'}: ${issue.message})` : ''}`,
    'the run database was changed by another program or a newer alpaca-forge; restore it from a copy, or start a new run',
  );
}

// Lives in errors.ts with the rest of the family; re-exported so existing imports keep working.
export { StoreError };

const now = () => new Date().toISOString();

/**
 * The SQLite store of one run (output/NAME/run.db). WAL mode with synchronous=NORMAL: a commit survives a
 * process kill (SIGKILL), which is the crash we promise to survive; power loss may lose the last commits.
 */
export class RunStore {
  readonly dir: string;
  readonly path: string;
  private readonly db: Database.Database;
  private nextId: number;
  private readonly statements = new Map<string, Database.Statement>();
  private commitResponse: ((id: number, r: RequestResult, items: NewItem[]) => void) | undefined;

  private constructor(dir: string, db: Database.Database) {
    this.dir = dir;
    this.path = join(dir, 'run.db');
    this.db = db;
    const row = parseRow(maxIdRowSchema, this.sql('SELECT COALESCE(MAX(id), 0) AS m FROM items').get(), this.path);
    this.nextId = row.m + 1;
  }

  static exists(runDir: string): boolean {
    return existsSync(join(runDir, 'run.db'));
  }

  static open(runDir: string, opts: { create?: boolean } = {}): RunStore {
    const path = join(runDir, 'run.db');
    if (!existsSync(path)) {
      if (!opts.create) throw new DataError(`${runDir}: no run here (missing ${path})`, 'check --run, or start one with `alpaca-forge generate --run ' + runDir + '`');
      mkdirSync(runDir, { recursive: true });
    }
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      migrate(db, path);
    } catch (e) {
      if (e instanceof ForgeError) throw e;
      throw new StoreError(`${path}: cannot open the run database (${(e as Error).message})`, 'the file may be corrupt or not a run database; restore it from a copy, or start a new run');
    }
    return new RunStore(runDir, db);
  }

  close(): void {
    this.db.close();
  }

  /** The run's one connection, for the store's other tables (responses.ts); nothing outside src/store uses it. */
  get connection(): Database.Database {
    return this.db;
  }

  /** Prepared once per store: preparing on every call cost more than the inserts at 52K-sample scale. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  // ---- meta ----
  getMeta(key: string): string | undefined {
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(key);
    return row === undefined ? undefined : parseRow(metaRowSchema, row, this.path).value;
  }

  setMeta(key: string, value: string): void {
    this.sql('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Writes the run's settings and the history of those changed on resume together: both are there, or neither. */
  recordSettings(meta: Record<string, string>, changes: readonly SettingChange[]): void {
    const at = now();
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(meta)) this.setMeta(k, v);
      const ins = this.sql('INSERT INTO run_history(at, setting, old_value, new_value) VALUES (?, ?, ?, ?)');
      for (const c of changes) ins.run(at, c.setting, c.oldValue, c.newValue);
    })();
  }

  /** Settings changed on resume, oldest first. */
  history(): HistoryEntry[] {
    return this.sql('SELECT at, setting, old_value, new_value FROM run_history ORDER BY id')
      .all()
      .map((row) => {
        const r = parseRow(historyRowSchema, row, this.path);
        return { at: r.at, setting: r.setting, oldValue: r.old_value, newValue: r.new_value };
      });
  }

  // ---- generation ----
  /** Item ids are handed out here, before insert, so the duplicate index can name an item in the same tick. */
  allocateItemId(): number {
    return this.nextId++;
  }

  beginRequest(examples: unknown, kind: 'generate' | 'judge' = 'generate', id?: number, target?: RequestTarget): number {
    const r = this.sql('INSERT INTO requests(id, kind, status, started_at, examples_json, model, endpoint) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      id ?? null,
      kind,
      'in_flight',
      now(),
      JSON.stringify(examples),
      target?.model ?? null,
      target?.endpoint ?? null,
    );
    return Number(r.lastInsertRowid);
  }

  /** The next free request id (generation hands ids out before the ingest thread writes the rows). */
  nextRequestId(): number {
    return parseRow(countRowSchema, this.sql('SELECT COALESCE(MAX(id), 0) + 1 AS n FROM requests').get(), this.path).n;
  }

  /** Records the response and its items in one transaction: both are there after a crash, or neither. */
  completeRequest(requestId: number, result: RequestResult, items: NewItem[]): void {
    this.commitResponse ??= this.db.transaction((id: number, r: RequestResult, its: NewItem[]) => {
      const at = now();
      this.sql(
        `UPDATE requests SET status = 'ok', finished_at = ?, raw_response = ?, finish_reason = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ?,
           model = COALESCE(?, model), endpoint = COALESCE(?, endpoint) WHERE id = ?`,
      ).run(at, r.raw, r.finishReason, r.promptTokens, r.completionTokens, r.costUsd, r.model ?? null, r.endpoint ?? null, id);
      const ins = this.sql(
        `INSERT INTO items(id, request_id, idx, instruction, input, output, status, reason, detail, duplicate_of, similarity, similar_json, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      // Positional binding: at 52K items, named binding of a spread object was the largest cost of the commit.
      for (const it of its) {
        ins.run(it.id, id, it.idx, it.instruction, it.input, it.output, it.status, it.reason, it.detail ?? null, it.duplicateOf, it.similarity, it.similar.length ? JSON.stringify(it.similar) : null, at);
      }
    });
    this.commitResponse(requestId, result, items);
  }

  failRequest(requestId: number, error: string, usage?: { promptTokens: number; completionTokens: number; costUsd: number }): void {
    this.db
      .prepare(`UPDATE requests SET status = 'failed', finished_at = ?, error = ?, prompt_tokens = ?, completion_tokens = ?, cost_usd = ? WHERE id = ?`)
      .run(now(), error, usage?.promptTokens ?? 0, usage?.completionTokens ?? 0, usage?.costUsd ?? 0, requestId);
  }

  /** A request stopped before its answer arrived (Ctrl-C): it counts for nothing, like one cut off by a kill. */
  abandonRequest(requestId: number, why: string): void {
    this.sql(`UPDATE requests SET status = 'abandoned', finished_at = ?, error = ? WHERE id = ?`).run(now(), why, requestId);
  }

  /** Requests left in flight by a killed process: their answers never arrived, so they count for nothing. */
  abandonInFlight(): number {
    return this.sql(`UPDATE requests SET status = 'abandoned', finished_at = ? WHERE status = 'in_flight'`).run(now()).changes;
  }

  /** Which endpoint and model answered (or failed) a request. */
  setRequestEndpoint(requestId: number, endpoint: string, model: string): void {
    this.sql('UPDATE requests SET endpoint = ?, model = ? WHERE id = ?').run(endpoint, model, requestId);
  }

  endpointTallies(): EndpointTally[] {
    const rows = this.sql(
      `SELECT endpoint, model, SUM(status = 'ok') AS ok, SUM(status = 'failed') AS failed, COALESCE(SUM(prompt_tokens), 0) AS promptTokens,
              COALESCE(SUM(completion_tokens), 0) AS completionTokens, COALESCE(SUM(cost_usd), 0) AS costUsd, MIN(started_at) AS first, MAX(finished_at) AS last
       FROM requests WHERE kind = 'generate' AND endpoint IS NOT NULL GROUP BY endpoint, model ORDER BY endpoint, model`,
    ).all();
    return rows.map((row) => {
      const { first, last, model, ok, failed, ...t } = parseRow(endpointTallyRowSchema, row, this.path);
      return { ...t, model: model ?? '', ok: ok ?? 0, failed: failed ?? 0, elapsedMs: first && last ? Math.max(0, Date.parse(last) - Date.parse(first)) : 0 };
    });
  }

  // ---- batch rounds ----
  /**
   * Records a round before anything is sent: its requests ('queued', with their examples) and the round itself, in
   * one transaction. Returns the round number.
   */
  queueBatch(b: { kind: 'api' | 'file'; inputPath: string; requests: Array<{ id: number; examples: unknown }> }): number {
    return this.db.transaction(() => {
      const at = now();
      const round = parseRow(countRowSchema, this.sql('SELECT COALESCE(MAX(round), 0) + 1 AS n FROM batches').get(), this.path).n;
      const ins = this.sql(`INSERT INTO requests(id, kind, status, started_at, examples_json, batch_round) VALUES (?, 'generate', 'queued', ?, ?, ?)`);
      for (const r of b.requests) ins.run(r.id, at, JSON.stringify(r.examples), round);
      const ids = b.requests.map((r) => r.id);
      this.sql(`INSERT INTO batches(round, kind, input_path, status, first_request, last_request, created_at, updated_at) VALUES (?, ?, ?, 'prepared', ?, ?, ?, ?)`).run(
        round,
        b.kind,
        b.inputPath,
        Math.min(...ids),
        Math.max(...ids),
        at,
        at,
      );
      return round;
    })();
  }

  updateBatch(round: number, f: { inputFileId?: string; batchId?: string; status?: string; outputFileId?: string | null; errorFileId?: string | null }): void {
    const cur = this.batch(round);
    if (!cur) throw new StoreError(`no batch round ${round} in ${this.path}`);
    this.sql('UPDATE batches SET input_file_id = ?, batch_id = ?, status = ?, output_file_id = ?, error_file_id = ?, updated_at = ? WHERE round = ?').run(
      f.inputFileId ?? cur.inputFileId,
      f.batchId ?? cur.batchId,
      f.status ?? cur.status,
      f.outputFileId === undefined ? cur.outputFileId : f.outputFileId,
      f.errorFileId === undefined ? cur.errorFileId : f.errorFileId,
      now(),
      round,
    );
  }

  markBatchIngested(round: number): void {
    this.sql('UPDATE batches SET ingested_at = ?, updated_at = ? WHERE round = ?').run(now(), now(), round);
  }

  batch(round: number): BatchRound | undefined {
    const r = this.sql('SELECT * FROM batches WHERE round = ?').get(round);
    return r === undefined ? undefined : toBatch(parseRow(batchRowSchema, r, this.path));
  }

  /** Rounds whose results are not all ingested yet, oldest first. */
  openBatches(): BatchRound[] {
    return this.sql('SELECT * FROM batches WHERE ingested_at IS NULL ORDER BY round').all().map((r) => toBatch(parseRow(batchRowSchema, r, this.path)));
  }

  batches(): BatchRound[] {
    return this.sql('SELECT * FROM batches ORDER BY round').all().map((r) => toBatch(parseRow(batchRowSchema, r, this.path)));
  }

  /** Requests of a round still waiting for their answer, with the examples they were built from. */
  queuedRequests(round: number): Array<{ id: number; examples: unknown }> {
    return this.sql(`SELECT id, examples_json FROM requests WHERE batch_round = ? AND status = 'queued' ORDER BY id`)
      .all(round)
      .map((row) => {
        const r = parseRow(queuedRequestRowSchema, row, this.path);
        return { id: r.id, examples: r.examples_json === null ? null : (JSON.parse(r.examples_json) as unknown) };
      });
  }

  countItems(status: CurationStatus): number {
    return parseRow(countRowSchema, this.sql('SELECT COUNT(*) AS n FROM items WHERE status = ?').get(status), this.path).n;
  }

  /** Texts of kept items in arrival order: what a resumed run's duplicate index and example pool start from. */
  keptTexts(): Array<z.output<typeof keptTextRowSchema>> {
    return this.sql(`SELECT id, instruction, input, output FROM items WHERE status = 'kept' ORDER BY id`)
      .all()
      .map((r) => parseRow(keptTextRowSchema, r, this.path));
  }

  spentUsd(): number {
    return parseRow(costRowSchema, this.sql('SELECT COALESCE(SUM(cost_usd), 0) AS c FROM requests').get(), this.path).c;
  }

  // ---- reading ----
  listItems(filter: { status?: CurationStatus[]; review?: (ReviewDecision | null)[] } = {}): StoredItem[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => '?').join(',')})`);
      params.push(...filter.status);
    }
    if (filter.review?.length) {
      const named = filter.review.filter((r): r is ReviewDecision => r !== null);
      const parts: string[] = [];
      if (named.length) {
        parts.push(`review IN (${named.map(() => '?').join(',')})`);
        params.push(...named);
      }
      if (filter.review.includes(null)) parts.push('review IS NULL');
      where.push(`(${parts.join(' OR ')})`);
    }
    const sql = `SELECT * FROM items ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return this.items(this.sql(sql).all(...params));
  }

  getItem(id: number): StoredItem | undefined {
    const row = this.sql('SELECT * FROM items WHERE id = ?').get(id);
    return row === undefined ? undefined : toItem(parseRow(itemRowSchema, row, this.path));
  }

  /** Samples that go on to training/export: accepted by review, or kept by curation and not rejected by review. */
  usableItems(): StoredItem[] {
    return this.items(this.sql(`SELECT * FROM items WHERE review = 'accepted' OR (status = 'kept' AND (review IS NULL OR review = 'skipped')) ORDER BY id`).all());
  }

  private items(rows: unknown[]): StoredItem[] {
    return rows.map((r) => toItem(parseRow(itemRowSchema, r, this.path)));
  }

  // ---- curation ----
  /** Re-curation: one transaction; never touches review or edit columns. */
  updateCuration(updates: CurationUpdate[]): void {
    const st = this.sql('UPDATE items SET status = ?, reason = ?, detail = ?, duplicate_of = ?, similarity = ?, similar_json = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const u of updates) st.run(u.status, u.reason, u.detail ?? null, u.duplicateOf, u.similarity, u.similar.length ? JSON.stringify(u.similar) : null, u.id);
    })();
  }

  setJudge(id: number, score: number | null, reason: string): void {
    this.sql('UPDATE items SET judge_score = ?, judge_reason = ? WHERE id = ?').run(score, reason, id);
  }

  recordJudgeRequest(r: { itemId: number; promptTokens: number; completionTokens: number; costUsd: number; raw: string; ok: boolean; model?: string; endpoint?: string }): void {
    const at = now();
    this.db
      .prepare(
        `INSERT INTO requests(kind, status, started_at, finished_at, raw_response, prompt_tokens, completion_tokens, cost_usd, item_id, model, endpoint) VALUES ('judge', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.ok ? 'ok' : 'failed', at, at, r.raw, r.promptTokens, r.completionTokens, r.costUsd, r.itemId, r.model ?? null, r.endpoint ?? null);
  }

  // ---- review ----
  /** Records a reviewer's decision (null clears it); logged so it can be undone. */
  setReview(id: number, decision: ReviewDecision | null): StoredItem {
    return this.changeLogged(id, 'review', (s) => ({ ...s, review: decision, reviewedAt: decision === null ? null : now() }));
  }

  /** Replaces the text; the text before the first edit is kept beside it. Logged so it can be undone. */
  editItem(id: number, text: Sample): StoredItem {
    return this.changeLogged(id, 'edit', (s) => ({
      ...s,
      ...text,
      original: s.original ?? { instruction: s.instruction, input: s.input, output: s.output },
    }));
  }

  /** Undoes the latest decision or edit not yet undone; returns the item it changed, or null if nothing is left. */
  undo(): StoredItem | null {
    const found = this.sql('SELECT id, item_id, before_json FROM review_log WHERE undone = 0 ORDER BY id DESC LIMIT 1').get();
    if (found === undefined) return null;
    const row = parseRow(reviewLogRowSchema, found, this.path);
    const before = logStateSchema.parse(JSON.parse(row.before_json));
    this.db.transaction(() => {
      this.writeState(row.item_id, before);
      this.sql('UPDATE review_log SET undone = 1 WHERE id = ?').run(row.id);
    })();
    return this.getItem(row.item_id) ?? null;
  }

  private changeLogged(id: number, action: 'review' | 'edit', change: (s: LogState) => LogState): StoredItem {
    const item = this.getItem(id);
    if (!item) throw new StoreError(`no item ${id} in ${this.path}`);
    const before: LogState = {
      instruction: item.instruction,
      input: item.input,
      output: item.output,
      review: item.review,
      reviewedAt: item.reviewedAt,
      original: item.original,
    };
    const after = change(before);
    this.db.transaction(() => {
      this.writeState(id, after);
      this.db
        .prepare('INSERT INTO review_log(item_id, action, before_json, after_json, at) VALUES (?, ?, ?, ?, ?)')
        .run(id, action, JSON.stringify(before), JSON.stringify(after), now());
    })();
    return this.getItem(id)!;
  }

  private writeState(id: number, s: LogState): void {
    this.db
      .prepare(
        'UPDATE items SET instruction = ?, input = ?, output = ?, review = ?, reviewed_at = ?, orig_instruction = ?, orig_input = ?, orig_output = ? WHERE id = ?',
      )
      .run(s.instruction, s.input, s.output, s.review, s.reviewedAt, s.original?.instruction ?? null, s.original?.input ?? null, s.original?.output ?? null, id);
  }

  // ---- summary ----
  summary(): RunSummary {
    const byStatus: Record<string, number> = {};
    for (const row of this.sql('SELECT status, COUNT(*) AS n FROM items GROUP BY status').all()) {
      const r = parseRow(statusGroupRowSchema, row, this.path);
      byStatus[r.status] = r.n;
    }
    const byReason: Record<string, number> = {};
    for (const row of this.sql(`SELECT reason, COUNT(*) AS n FROM items WHERE reason IS NOT NULL GROUP BY reason ORDER BY n DESC`).all()) {
      const r = parseRow(reasonGroupRowSchema, row, this.path);
      byReason[r.reason] = r.n;
    }
    const byReview: Record<string, number> = {};
    for (const row of this.sql(`SELECT COALESCE(review, 'pending') AS review, COUNT(*) AS n FROM items GROUP BY 1`).all()) {
      const r = parseRow(reviewGroupRowSchema, row, this.path);
      byReview[r.review] = r.n;
    }
    const req = parseRow(
      requestCountsRowSchema,
      this.db
      .prepare(
        `SELECT COUNT(*) AS total,
                SUM(status = 'ok') AS ok, SUM(status = 'failed') AS failed,
                SUM(status = 'in_flight') AS inFlight, SUM(status = 'abandoned') AS abandoned, SUM(status = 'queued') AS queued
         FROM requests WHERE kind = 'generate'`,
      )
        .get(),
      this.path,
    );
    const tok = parseRow(
      usageRowSchema,
      this.db
      .prepare(
        `SELECT COALESCE(SUM(prompt_tokens),0) AS p, COALESCE(SUM(completion_tokens),0) AS c, COALESCE(SUM(cost_usd),0) AS usd,
                MIN(started_at) AS first, MAX(finished_at) AS last, SUM(kind = 'judge') AS judge FROM requests`,
      )
        .get(),
      this.path,
    );
    const elapsedStored = Number(this.getMeta('elapsed_ms') ?? 'NaN');
    const target = this.getMeta('target');
    return {
      byStatus,
      byReason,
      byReview,
      requests: { total: req.total, ok: req.ok ?? 0, failed: req.failed ?? 0, inFlight: req.inFlight ?? 0, abandoned: req.abandoned ?? 0, queued: req.queued ?? 0 },
      judgeRequests: tok.judge ?? 0,
      promptTokens: tok.p,
      completionTokens: tok.c,
      costUsd: tok.usd,
      startedAt: tok.first,
      elapsedMs: Number.isFinite(elapsedStored) ? elapsedStored : tok.first && tok.last ? Date.parse(tok.last) - Date.parse(tok.first) : 0,
      target: target === undefined ? null : Number(target),
      lang: langSchema.catch('en').parse(this.getMeta('lang')),
    };
  }
}

function migrate(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) {
    throw new StoreError(`${path} was written by a newer alpaca-forge (schema ${version})`, 'upgrade alpaca-forge to open this run');
  }
  for (let v = version; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
