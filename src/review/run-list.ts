import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RunStore } from '../store/run-store.js';
import type { Lang } from '../data/sample.js';

export type RunState = 'generating' | 'complete' | 'stopped' | 'unreadable';

export interface RunInfo {
  name: string;
  dir: string;
  state: RunState;
  kept: number;
  target: number | null;
  items: number;
  costUsd: number;
  byStatus: Record<string, number>;
  byReview: Record<string, number>;
  lang: Lang;
  /** last change of the run database, ms since epoch: the list shows the newest first */
  modifiedMs: number;
  /** why the run could not be read (state 'unreadable') */
  error: string | null;
}

/** A live `generate` holds run.lock with its pid; a lock left by a killed process does not count. */
function lockHeld(dir: string): boolean {
  const path = join(dir, 'run.lock');
  if (!existsSync(path)) return false;
  const pid = Number(readFileSync(path, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The runs under `runsDir` (each a folder with run.db), newest first. A missing folder is an empty list. */
export function listRuns(runsDir: string): RunInfo[] {
  if (!existsSync(runsDir)) return [];
  const out: RunInfo[] = [];
  for (const name of readdirSync(runsDir)) {
    const dir = join(runsDir, name);
    if (!RunStore.exists(dir)) continue;
    const modifiedMs = Math.max(statSync(join(dir, 'run.db')).mtimeMs, existsSync(join(dir, 'run.db-wal')) ? statSync(join(dir, 'run.db-wal')).mtimeMs : 0);
    try {
      const store = RunStore.open(dir);
      try {
        const s = store.summary();
        const kept = s.byStatus['kept'] ?? 0;
        const items = Object.values(s.byStatus).reduce((a, b) => a + b, 0);
        const state: RunState = lockHeld(dir) ? 'generating' : s.target !== null && kept >= s.target ? 'complete' : 'stopped';
        out.push({ name, dir, state, kept, target: s.target, items, costUsd: s.costUsd, byStatus: s.byStatus, byReview: s.byReview, lang: s.lang, modifiedMs, error: null });
      } finally {
        store.close();
      }
    } catch (e) {
      out.push({ name, dir, state: 'unreadable', kept: 0, target: null, items: 0, costUsd: 0, byStatus: {}, byReview: {}, lang: 'en', modifiedMs, error: (e as Error).message });
    }
  }
  return out.sort((a, b) => b.modifiedMs - a.modifiedMs || a.name.localeCompare(b.name));
}
