import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { spawnCli } from '../helpers/cli.js';

/**
 * Spawns the built CLI with stdout into a reader that closes its end after `lines` lines (0: before anything is
 * written), as `| head -n 1` does; resolves with the exit code and stderr.
 */
function runIntoClosingReader(args: string[], lines: number, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string; firstLines: string[] }> {
  const { child } = spawnCli(args, { env });
  let stderr = '';
  let buf = '';
  const firstLines: string[] = [];
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const close = () => child.stdout!.destroy();
  if (lines === 0) close();
  else
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while (firstLines.length < lines && (nl = buf.indexOf('\n')) >= 0) {
        firstLines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (firstLines.length >= lines) close();
    });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, firstLines });
    }),
  );
}

const noStack = (stderr: string) => {
  assert.doesNotMatch(stderr, /EPIPE|Unhandled 'error'|^\s+at /m, stderr);
};

function bigDataset(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'forge-pipe-'));
  const path = join(dir, 'data.jsonl');
  const words = ['river', 'castle', 'engine', 'garden', 'planet', 'violin', 'harbour', 'glacier', 'lantern', 'meadow'];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const w = (k: number) => words[(i * 7 + k * 3 + Math.floor(i / 10 ** k)) % words.length];
    lines.push(JSON.stringify({ instruction: `Describe item ${i}: a ${w(1)} near a ${w(2)} by the ${w(3)}.`, input: '', output: `Item ${i} is a ${w(2)} `.repeat(8) }));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

test('stats into a reader that has gone: no EPIPE stack trace, exit 141', async () => {
  const data = bigDataset(50);
  const r = await runIntoClosingReader(['stats', '--in', data], 0);
  noStack(r.stderr);
  assert.equal(r.code, 141, r.stderr);
});

test('curate --out - | head -n 1: output ends quietly after the first line', async () => {
  // Well over a pipe buffer (64 KiB), so the reader is gone while the dataset is still being written.
  const data = bigDataset(1500);
  const r = await runIntoClosingReader(['curate', '--in', data, '--out', '-', '--rules', 'none', '--rouge-threshold', '1'], 1);
  assert.equal(r.firstLines[0], '[');
  noStack(r.stderr);
  assert.equal(r.code, 141, r.stderr);
});

test('generate --json | head -n 1 stops as for Ctrl-C: requests abandoned, lock released, exit', async () => {
  const server = await startFakeServer({ latencyMs: 300 });
  const runDir = join(mkdtempSync(join(tmpdir(), 'forge-pipe-')), 'run');
  try {
    const t0 = Date.now();
    const r = await runIntoClosingReader(['generate', '--run', runDir, '--target', '100000', '--concurrency', '4', '--base-url', server.url, '--model', 'm', '--json'], 1, { OPENAI_API_KEY: 'sk-pipe' });
    assert.match(r.firstLines[0] ?? '', /"type":"start"/);
    noStack(r.stderr);
    assert.equal(r.code, 141, r.stderr);
    assert.ok(Date.now() - t0 < 20_000, 'it stopped instead of generating on');
    assert.equal(existsSync(join(runDir, 'run.lock')), false, 'the run lock is released');
    const store = RunStore.open(runDir);
    try {
      assert.equal(store.summary().requests.inFlight, 0, 'no request is left marked in flight');
    } finally {
      store.close();
    }
  } finally {
    await server.close();
  }
});
