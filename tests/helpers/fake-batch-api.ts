import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The Files and Batches routes of the fake OpenAI server: uploads of purpose "batch", batches that validate, stay
 * in_progress for a while, then complete (or expire part-way), with output and error files as the real API writes
 * them (https://platform.openai.com/docs/guides/batch).
 */
export interface FakeBatchOptions {
  /** How long a batch stays in_progress. Default 0. */
  inProgressMs?: number;
  /** Lines (0-based within the batch) that fail with HTTP 500; they go to the error file. */
  failLine?: (index: number, customId: string) => boolean;
  /** The batch expires after answering this many lines: the rest go to the error file as batch_expired. */
  expireAfter?: number;
  /** Delay before answering a create (the batch exists from the moment the request arrives). */
  createDelayMs?: number;
}

export interface FakeBatch {
  id: string;
  object: 'batch';
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: string;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  metadata: Record<string, string> | null;
  request_counts: { total: number; completed: number; failed: number };
  errors: null;
}

export type ChatAnswer = (body: unknown) => object;

export class FakeBatchApi {
  readonly files = new Map<string, { purpose: string; filename: string; content: string }>();
  readonly batches = new Map<string, FakeBatch>();
  /** Batch lines run so far, by custom_id (to check that nothing is run twice). */
  readonly linesRun: string[] = [];
  private seq = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly opts: FakeBatchOptions,
    private readonly chat: ChatAnswer,
  ) {}

  /** Handles a Files or Batches request; false when the URL is not one of theirs. */
  handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1/, '');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'POST' && path === '/files') {
      void this.upload(req, raw).then(
        (f) => json(200, f),
        (e: Error) => json(400, { error: { message: e.message } }),
      );
      return true;
    }
    let m = /^\/files\/([^/]+)\/content$/.exec(path);
    if (req.method === 'GET' && m) {
      const f = this.files.get(m[1]!);
      if (!f) json(404, { error: { message: `no file ${m[1]}` } });
      else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(f.content);
      return true;
    }
    if (req.method === 'POST' && path === '/batches') {
      const body = JSON.parse(raw.toString('utf8') || '{}') as { input_file_id?: string; endpoint?: string; completion_window?: string; metadata?: Record<string, string> };
      const input = body.input_file_id ? this.files.get(body.input_file_id) : undefined;
      if (!input || input.purpose !== 'batch') {
        json(400, { error: { message: `input_file_id ${body.input_file_id} is not a batch file` } });
        return true;
      }
      const batch = this.create(body.input_file_id!, body.endpoint ?? '', body.completion_window ?? '', body.metadata ?? null, input.content);
      if (this.opts.createDelayMs) this.later(this.opts.createDelayMs, () => json(200, batch));
      else json(200, batch);
      return true;
    }
    if (req.method === 'GET' && path === '/batches') {
      const data = [...this.batches.values()].reverse();
      json(200, { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: false });
      return true;
    }
    m = /^\/batches\/([^/]+)(\/cancel)?$/.exec(path);
    if (m) {
      const b = this.batches.get(m[1]!);
      if (!b) {
        json(404, { error: { message: `no batch ${m[1]}` } });
        return true;
      }
      if (m[2] && req.method === 'POST' && !['completed', 'expired', 'failed', 'cancelled'].includes(b.status)) {
        b.status = 'cancelling';
        // Nothing of a cancelled batch has run here: it ends with no output.
        this.later(20, () => (b.status = 'cancelled'));
      }
      json(200, b);
      return true;
    }
    return false;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async upload(req: IncomingMessage, raw: Buffer): Promise<object> {
    const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': String(req.headers['content-type'] ?? '') } }).formData();
    const file = form.get('file');
    if (!file || typeof file === 'string') throw new Error('no file in the upload');
    const id = `file-${++this.seq}`;
    const purpose = String(form.get('purpose') ?? '');
    this.files.set(id, { purpose, filename: file.name, content: await file.text() });
    return { id, object: 'file', bytes: file.size, created_at: 0, filename: file.name, purpose, status: 'processed' };
  }

  private create(inputFileId: string, endpoint: string, window: string, metadata: Record<string, string> | null, content: string): FakeBatch {
    const id = `batch_${++this.seq}`;
    const lines = content.split('\n').filter((l) => l.trim() !== '');
    const batch: FakeBatch = {
      id,
      object: 'batch',
      endpoint,
      input_file_id: inputFileId,
      completion_window: window,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: Math.floor(Date.now() / 1000),
      metadata,
      request_counts: { total: lines.length, completed: 0, failed: 0 },
      errors: null,
    };
    this.batches.set(id, batch);
    this.later(5, () => {
      if (batch.status !== 'validating') return;
      batch.status = 'in_progress';
      this.later(this.opts.inProgressMs ?? 0, () => {
        if (batch.status !== 'in_progress') return;
        this.run(batch, lines);
      });
    });
    return batch;
  }

  private run(batch: FakeBatch, lines: string[]): void {
    const out: string[] = [];
    const err: string[] = [];
    for (const [i, line] of lines.entries()) {
      const req = JSON.parse(line) as { custom_id: string; body: unknown };
      const id = `batch_req_${++this.seq}`;
      if (this.opts.expireAfter !== undefined && i >= this.opts.expireAfter) {
        err.push(JSON.stringify({ id, custom_id: req.custom_id, response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } }));
        continue;
      }
      this.linesRun.push(req.custom_id);
      if (this.opts.failLine?.(i, req.custom_id)) {
        err.push(JSON.stringify({ id, custom_id: req.custom_id, response: { status_code: 500, request_id: id, body: { error: { message: 'scripted failure', type: 'server_error' } } }, error: null }));
        batch.request_counts.failed++;
        continue;
      }
      out.push(JSON.stringify({ id, custom_id: req.custom_id, response: { status_code: 200, request_id: id, body: this.chat(req.body) }, error: null }));
      batch.request_counts.completed++;
    }
    const file = (lines: string[]) => {
      if (lines.length === 0) return null;
      const fid = `file-${++this.seq}`;
      this.files.set(fid, { purpose: 'batch_output', filename: `${batch.id}.jsonl`, content: `${lines.join('\n')}\n` });
      return fid;
    };
    batch.output_file_id = file(out);
    batch.error_file_id = file(err);
    batch.status = this.opts.expireAfter !== undefined && this.opts.expireAfter < lines.length ? 'expired' : 'completed';
  }
}
