import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { isStdoutPath } from '../io/write-output.js';

/**
 * The files a run keeps in its folder: the database with SQLite's companions, the writer's lock, and the batch
 * files of its rounds (the folder `batches/`, and any input file a round recorded elsewhere). Writing an export
 * over one of them would destroy the run (`export --out R/run.db` once left a JSONL where the database was).
 */
export function runOwnedPaths(runDir: string, batchInputs: readonly string[]): { files: string[]; folders: string[] } {
  const db = join(runDir, 'run.db');
  return {
    files: [db, `${db}-wal`, `${db}-shm`, `${db}-journal`, join(runDir, 'run.lock'), ...batchInputs],
    folders: [join(runDir, 'batches')],
  };
}

/** Where a path really leads: through its links when it exists, else its folder's real path and its name. */
function realTarget(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const dir = dirname(abs);
    return existsSync(dir) ? join(realTarget(dir), basename(abs)) : abs;
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/**
 * Refuses an output that is a file of the run (see runOwnedPaths), by name, by link or by hard link, as curate
 * refuses writing its input. `-` and new files elsewhere pass.
 */
export function assertNotRunFile(output: { path: string; label: string }, runDir: string, batchInputs: readonly string[] = []): void {
  if (isStdoutPath(output.path)) return;
  const out = realTarget(output.path);
  const owned = runOwnedPaths(runDir, batchInputs);
  const hit =
    owned.files.find((f) => realTarget(f) === out || sameFile(f, output.path)) ??
    owned.folders.find((d) => {
      const rel = relative(realTarget(d), out);
      return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep);
    });
  if (hit === undefined) return;
  throw new UsageError(`${output.label} ${output.path} belongs to the run (${hit}); writing it would destroy the run's data`, `choose a path outside those files, e.g. ${join(runDir, 'export.json')}`);
}
