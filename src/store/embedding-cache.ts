import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { StoreError } from '../errors.js';

// Additive and idempotent: a run.db of any schema version gains the table on first use, and older versions of
// alpaca-forge, which never read it, open the file as before.
const CREATE = `CREATE TABLE IF NOT EXISTS embeddings (
  model TEXT NOT NULL,
  text_hash TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vector BLOB NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (model, text_hash)
)`;

const rowSchema = z.object({ text_hash: z.string(), dim: z.number().int().positive(), vector: z.instanceof(Buffer) });

/** SHA-256 of the text: the cache key beside the model, so the text itself is not stored twice. */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Embedding vectors by (model, text hash), in the run's database (or any SQLite file for `curate --in`), so a
 * re-run or a resumed run sends no text twice. Each batch is committed as it arrives: a kill loses only the
 * batches in flight.
 */
export class EmbeddingCache {
  private readonly getStmt: Database.Statement;
  private readonly putStmt: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    db.exec(CREATE);
    this.getStmt = db.prepare('SELECT text_hash, dim, vector FROM embeddings WHERE model = ? AND text_hash = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO embeddings(model, text_hash, dim, vector, created_at) VALUES (?, ?, ?, ?, ?)');
  }

  /** A cache file of its own (for `curate --in`, which has no run.db); created when missing. */
  static openFile(path: string): { cache: EmbeddingCache; close: () => void } {
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    } catch (e) {
      throw new StoreError(`${path}: cannot open the embedding cache (${(e as Error).message})`, 'pass another --embedding-cache file');
    }
    return { cache: new EmbeddingCache(db, path), close: () => db.close() };
  }

  get(model: string, hash: string): Float32Array | undefined {
    const row = this.getStmt.get(model, hash);
    if (row === undefined) return undefined;
    const r = rowSchema.safeParse(row);
    if (!r.success || r.data.vector.byteLength !== r.data.dim * 4) {
      throw new StoreError(`${this.path}: a cached embedding of ${model} is damaged`, 'delete the embeddings table (or the cache file) and run again');
    }
    const b = r.data.vector;
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  /** Stores one batch in one transaction. */
  put(model: string, entries: ReadonlyArray<{ hash: string; vector: Float32Array }>): void {
    const at = new Date().toISOString();
    this.db.transaction(() => {
      for (const e of entries) this.putStmt.run(model, e.hash, e.vector.length, Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength), at);
    })();
  }
}
