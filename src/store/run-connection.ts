import type Database from 'better-sqlite3';
import type { z } from 'zod';
import { StoreError } from '../errors.js';

export const now = () => new Date().toISOString();

/** Parses one row; a row that does not fit says which column, so a damaged database is named as such. */
export function parseRow<T extends z.ZodType>(schema: T, row: unknown, path: string): z.output<T> {
  const r = schema.safeParse(row);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new StoreError(
    `${path}: unexpected row${issue ? ` (column ${issue.path.join('.') || '?'}: ${issue.message})` : ''}`,
    'the run database was changed by another program or a newer alpaca-forge; restore it from a copy, or start a new run',
  );
}

/**
 * The one connection of a run database, shared by the store's tables (meta, requests, batches, items, review log,
 * responses) so their writes can join one transaction, with one cache of prepared statements.
 */
export class RunConnection {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly db: Database.Database,
    /** The database file, for errors. */
    readonly path: string,
  ) {}

  /** Prepared once per connection: preparing on every call cost more than the inserts at 52K-sample scale. */
  sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /** Parses a row read from this database (see parseRow). */
  row<T extends z.ZodType>(schema: T, row: unknown): z.output<T> {
    return parseRow(schema, row, this.path);
  }

  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    return this.db.transaction(fn);
  }
}
