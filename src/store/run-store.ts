import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, ForgeError, StoreError } from '../errors.js';
import type { Sample } from '../data/sample.js';
import { migrations } from './schema-sql.js';
import { RunConnection } from './run-connection.js';
import { RunMeta, type ConfigSnapshot, type HistoryEntry, type SettingChange } from './run-meta.js';
import { RequestLog, type EndpointTally, type RequestResult, type RequestTarget, type UnstoredCount } from './request-log.js';
import { BatchRounds, type BatchRound } from './batch-rounds.js';
import { RunItems, type ItemFilter } from './run-items.js';
import { ReviewLog } from './review-log.js';
import { summarizeRun, type RunSummary } from './run-summary.js';
import { assertNotRunFile } from './run-files.js';
import { ItemView, type ItemViewQuery, type ReviewCounts } from './item-view.js';
import type { CurationStatus, CurationUpdate, NewItem, ReviewDecision, StoredItem } from './item-rows.js';

// The store's types, from the modules that own them, so callers keep importing them from here.
export { curationStatuses, reviewDecisions, type CurationStatus, type ReviewDecision, type SimilarRef, type StoredItem, type CurationFields, type NewItem, type CurationUpdate } from './item-rows.js';
export type { SettingChange, HistoryEntry, ConfigSnapshot } from './run-meta.js';
export { parseConfigSnapshot } from './run-meta.js';
export type { RequestResult, RequestTarget, EndpointTally, UnstoredCount } from './request-log.js';
export type { BatchRound } from './batch-rounds.js';
export type { RunSummary } from './run-summary.js';
export type { ItemFilter } from './run-items.js';
export { viewSortKeys, viewIncludes, indexedSortKeys, type ItemViewQuery, type ViewSortKey, type ReviewCounts } from './item-view.js';
// Lives in errors.ts with the rest of the family; re-exported so existing imports keep working.
export { StoreError };

/**
 * The SQLite store of one run (output/NAME/run.db). WAL mode with synchronous=NORMAL: a commit survives a
 * process kill (SIGKILL), which is the crash we promise to survive; power loss may lose the last commits.
 *
 * One connection, shared by a module per concern (meta, requests, batch rounds, items, review log, summary);
 * this class opens it and answers for all of them, so callers hold one store.
 */
export class RunStore {
  readonly dir: string;
  readonly path: string;
  private readonly conn: RunConnection;
  readonly meta: RunMeta;
  readonly requests: RequestLog;
  readonly rounds: BatchRounds;
  readonly items: RunItems;
  readonly reviewLog: ReviewLog;
  readonly view: ItemView;

  private constructor(dir: string, db: Database.Database) {
    this.dir = dir;
    this.path = join(dir, 'run.db');
    this.conn = new RunConnection(db, this.path);
    this.meta = new RunMeta(this.conn);
    this.requests = new RequestLog(this.conn);
    this.rounds = new BatchRounds(this.conn);
    this.items = new RunItems(this.conn);
    this.reviewLog = new ReviewLog(this.conn, this.items);
    this.view = new ItemView(this.conn, this.items);
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
    this.conn.db.close();
  }

  /** Refuses an output path that is one of the run's own files (its database, lock or batch files). */
  assertNotRunFile(output: { path: string; label: string }): void {
    assertNotRunFile(output, this.dir, this.rounds.all().map((b) => b.inputPath));
  }

  /** The run's one connection, for the store's other tables (responses.ts); nothing outside src/store uses it. */
  get connection(): Database.Database {
    return this.conn.db;
  }

  // ---- meta ----
  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }
  setMeta(key: string, value: string): void {
    this.meta.set(key, value);
  }
  recordSettings(meta: Record<string, string>, changes: readonly SettingChange[]): void {
    this.meta.recordSettings(meta, changes);
  }
  history(): HistoryEntry[] {
    return this.meta.history();
  }
  /** The settings generation started with, zod-parsed (see configSnapshotSchema); undefined when absent or unreadable. */
  configSnapshot(): ConfigSnapshot | undefined {
    return this.meta.configSnapshot();
  }

  // ---- requests ----
  allocateItemId(): number {
    return this.items.allocateId();
  }
  beginRequest(examples: unknown, kind: 'generate' | 'judge' = 'generate', id?: number, target?: RequestTarget): number {
    return this.requests.begin(examples, kind, id, target);
  }
  nextRequestId(): number {
    return this.requests.nextId();
  }
  completeRequest(requestId: number, result: RequestResult, items: NewItem[], unstored: readonly UnstoredCount[] = []): void {
    this.requests.complete(requestId, result, items, unstored);
  }
  storedByReason(): Map<string, number> {
    return this.items.storedByReason();
  }
  failRequest(requestId: number, error: string, usage?: { promptTokens: number; completionTokens: number; costUsd: number }): void {
    this.requests.fail(requestId, error, usage);
  }
  abandonRequest(requestId: number, why: string): void {
    this.requests.abandon(requestId, why);
  }
  abandonInFlight(): number {
    return this.requests.abandonInFlight();
  }
  setRequestEndpoint(requestId: number, endpoint: string, model: string): void {
    this.requests.setEndpoint(requestId, endpoint, model);
  }
  endpointTallies(): EndpointTally[] {
    return this.requests.endpointTallies();
  }
  spentUsd(): number {
    return this.requests.spentUsd();
  }
  recordEmbeddingsRequest(r: Parameters<RequestLog['recordEmbeddings']>[0]): void {
    this.requests.recordEmbeddings(r);
  }

  recordJudgeRequest(r: Parameters<RequestLog['recordJudge']>[0]): void {
    this.requests.recordJudge(r);
  }

  // ---- batch rounds ----
  queueBatch(b: Parameters<BatchRounds['queue']>[0]): number {
    return this.rounds.queue(b);
  }
  updateBatch(round: number, f: Parameters<BatchRounds['update']>[1]): void {
    this.rounds.update(round, f);
  }
  markBatchIngested(round: number): void {
    this.rounds.markIngested(round);
  }
  batch(round: number): BatchRound | undefined {
    return this.rounds.get(round);
  }
  openBatches(): BatchRound[] {
    return this.rounds.open();
  }
  batches(): BatchRound[] {
    return this.rounds.all();
  }
  queuedRequests(round: number): Array<{ id: number; examples: unknown }> {
    return this.rounds.queuedRequests(round);
  }

  // ---- items ----
  countItems(status: CurationStatus): number {
    return this.items.count(status);
  }
  keptTexts(): ReturnType<RunItems['keptTexts']> {
    return this.items.keptTexts();
  }
  listItems(filter: ItemFilter = {}): StoredItem[] {
    return this.items.list(filter);
  }
  getItem(id: number): StoredItem | undefined {
    return this.items.get(id);
  }
  usableItems(): StoredItem[] {
    return this.items.usable();
  }
  duplicateRemovals(): ReturnType<RunItems['duplicateRemovals']> {
    return this.items.duplicateRemovals();
  }
  duplicatesOf(id: number, limit: number): StoredItem[] {
    return this.items.duplicatesOf(id, limit);
  }
  countDuplicatesOf(id: number): number {
    return this.items.countDuplicatesOf(id);
  }
  updateCuration(updates: CurationUpdate[]): void {
    this.items.updateCuration(updates);
  }
  setJudge(id: number, score: number | null, reason: string): void {
    this.items.setJudge(id, score, reason);
  }

  // ---- review ----
  setReview(id: number, decision: ReviewDecision | null): StoredItem {
    return this.reviewLog.setReview(id, decision);
  }
  editItem(id: number, text: Sample): StoredItem {
    return this.reviewLog.editItem(id, text);
  }
  undo(): StoredItem | null {
    return this.reviewLog.undo();
  }
  undoLast(): ReturnType<ReviewLog['undoLast']> {
    return this.reviewLog.undoLast();
  }

  // ---- the review list, a page at a time (see ItemView) ----
  countView(q: ItemViewQuery): number {
    return this.view.count(q);
  }
  countDecidedInView(q: ItemViewQuery): number {
    return this.view.countDecided(q);
  }
  /** Given the view's size (`total`), a page past the middle is read from the end. */
  viewPage(q: ItemViewQuery, offset: number, limit: number, total?: number): StoredItem[] {
    return this.view.page(q, offset, limit, total);
  }
  viewOrder(q: ItemViewQuery): Int32Array {
    return this.view.order(q);
  }
  viewPosition(q: ItemViewQuery, id: number): number {
    return this.view.position(q, id);
  }
  reviewCounts(): ReviewCounts {
    return this.view.counts();
  }
  reasons(): string[] {
    return this.view.reasons();
  }

  // ---- summary ----
  summary(): RunSummary {
    return summarizeRun(this.conn, this.meta);
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
