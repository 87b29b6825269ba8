import { openSync, writeSync, closeSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './run-store.js';

/**
 * One writer per run: two `generate` processes on the same run would each believe they own the remaining target.
 * The lock file holds the owner's pid; a lock whose process is gone (SIGKILL, crash) is taken over.
 */
export function acquireRunLock(runDir: string): () => void {
  const path = join(runDir, 'run.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new StoreError(`${runDir} is in use by process ${pid}`, 'wait for it to finish, or stop it (Ctrl-C) first');
      }
      unlinkSync(path);
    }
  }
  throw new StoreError(`${runDir}: could not take the run lock`, `remove ${path} if no alpaca-forge process is running`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
