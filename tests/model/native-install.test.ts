import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `npm install` runs native/install.mjs. Where the addon cannot be built it must still exit 0, with one line saying
 * how to get the fast path. Each case builds a copy of native/ so the real build stays as it is.
 */
function install(env: NodeJS.ProcessEnv): { code: number | null; lines: string[]; built: boolean } {
  const dir = mkdtempSync(join(tmpdir(), 'forge-native-install-'));
  try {
    for (const f of ['binding.gyp', 'blas.c', 'install.mjs']) copyFileSync(join('native', f), join(dir, f));
    const r = spawnSync(process.execPath, [join(dir, 'install.mjs')], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, lines: r.stdout.split('\n').filter(Boolean), built: existsSync(join(dir, 'build', 'Release', 'alpaca_blas.node')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const HOW = /; training uses WebAssembly\. For the fast CPU path: .*(apt-get install libopenblas-dev|xcode-select).*then npm rebuild$/;

test('install without a BLAS library succeeds and prints one line saying how to get the fast path', { timeout: 120_000 }, () => {
  const r = install({ ALPACA_FORGE_BLAS_LIB: 'no-such-blas-library' });
  assert.equal(r.code, 0);
  assert.equal(r.built, false);
  assert.equal(r.lines.length, 1, r.lines.join('\n'));
  assert.match(r.lines[0]!, /^alpaca-forge: native BLAS not built \((no BLAS library|no CBLAS header|no C compiler or build tools)\)/);
  assert.match(r.lines[0]!, HOW);
});

test('install without a C compiler succeeds with the same one line', { timeout: 120_000 }, () => {
  const r = install({ CC: join(tmpdir(), 'no-such-dir', 'cc') });
  assert.equal(r.code, 0);
  assert.equal(r.built, false);
  assert.equal(r.lines.length, 1, r.lines.join('\n'));
  assert.match(r.lines[0]!, HOW);
});

test('ALPACA_FORGE_NO_NATIVE=1 skips the build, in one line', () => {
  const r = install({ ALPACA_FORGE_NO_NATIVE: '1' });
  assert.equal(r.code, 0);
  assert.equal(r.built, false);
  assert.deepEqual(r.lines.map((l) => l.replace(HOW, '')), ['alpaca-forge: native BLAS not built (ALPACA_FORGE_NO_NATIVE=1)']);
});
