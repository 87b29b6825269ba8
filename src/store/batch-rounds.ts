import { z } from 'zod';
import { StoreError } from '../errors.js';
import { now, type RunConnection } from './run-connection.js';

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
const queuedRequestRowSchema = z.object({ id: z.number(), examples_json: z.string().nullable() });
const countRowSchema = z.object({ n: z.number() });

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

/** The run's batch rounds (table batches) and the queued requests each one carries. */
export class BatchRounds {
  constructor(private readonly c: RunConnection) {}

  /**
   * Records a round before anything is sent: its requests ('queued', with their examples) and the round itself, in
   * one transaction. Returns the round number.
   */
  queue(b: { kind: 'api' | 'file'; inputPath: string; requests: Array<{ id: number; examples: unknown }> }): number {
    return this.c.transaction(() => {
      const at = now();
      const round = this.c.row(countRowSchema, this.c.sql('SELECT COALESCE(MAX(round), 0) + 1 AS n FROM batches').get()).n;
      const ins = this.c.sql(`INSERT INTO requests(id, kind, status, started_at, examples_json, batch_round) VALUES (?, 'generate', 'queued', ?, ?, ?)`);
      for (const r of b.requests) ins.run(r.id, at, JSON.stringify(r.examples), round);
      const ids = b.requests.map((r) => r.id);
      this.c
        .sql(`INSERT INTO batches(round, kind, input_path, status, first_request, last_request, created_at, updated_at) VALUES (?, ?, ?, 'prepared', ?, ?, ?, ?)`)
        .run(round, b.kind, b.inputPath, Math.min(...ids), Math.max(...ids), at, at);
      return round;
    })();
  }

  update(round: number, f: { inputFileId?: string; batchId?: string; status?: string; outputFileId?: string | null; errorFileId?: string | null }): void {
    const cur = this.get(round);
    if (!cur) throw new StoreError(`no batch round ${round} in ${this.c.path}`);
    this.c
      .sql('UPDATE batches SET input_file_id = ?, batch_id = ?, status = ?, output_file_id = ?, error_file_id = ?, updated_at = ? WHERE round = ?')
      .run(
        f.inputFileId ?? cur.inputFileId,
        f.batchId ?? cur.batchId,
        f.status ?? cur.status,
        f.outputFileId === undefined ? cur.outputFileId : f.outputFileId,
        f.errorFileId === undefined ? cur.errorFileId : f.errorFileId,
        now(),
        round,
      );
  }

  markIngested(round: number): void {
    this.c.sql('UPDATE batches SET ingested_at = ?, updated_at = ? WHERE round = ?').run(now(), now(), round);
  }

  get(round: number): BatchRound | undefined {
    const r = this.c.sql('SELECT * FROM batches WHERE round = ?').get(round);
    return r === undefined ? undefined : toBatch(this.c.row(batchRowSchema, r));
  }

  /** Rounds whose results are not all ingested yet, oldest first. */
  open(): BatchRound[] {
    return this.c.sql('SELECT * FROM batches WHERE ingested_at IS NULL ORDER BY round').all().map((r) => toBatch(this.c.row(batchRowSchema, r)));
  }

  all(): BatchRound[] {
    return this.c.sql('SELECT * FROM batches ORDER BY round').all().map((r) => toBatch(this.c.row(batchRowSchema, r)));
  }

  /** Requests of a round still waiting for their answer, with the examples they were built from (as they were sent: any JSON). */
  queuedRequests(round: number): Array<{ id: number; examples: unknown }> {
    return this.c
      .sql(`SELECT id, examples_json FROM requests WHERE batch_round = ? AND status = 'queued' ORDER BY id`)
      .all(round)
      .map((row) => {
        const r = this.c.row(queuedRequestRowSchema, row);
        const examples: unknown = r.examples_json === null ? null : JSON.parse(r.examples_json);
        return { id: r.id, examples };
      });
  }
}
