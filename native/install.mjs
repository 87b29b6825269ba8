#!/usr/bin/env node
// Builds the optional native BLAS addon (binding.gyp next to this file) at `npm install` / `npm rebuild`.
// It never fails the install: without a C compiler or a CBLAS, it prints one line saying how to get the fast
// CPU path, and training runs on WebAssembly as before.
//   ALPACA_FORGE_NO_NATIVE=1      skip the build
//   ALPACA_FORGE_BLAS_LIB=name    link libname instead of libopenblas (any CBLAS: blis, mkl_rt…)
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const addon = join(here, 'build', 'Release', 'alpaca_blas.node');
const HOW = process.platform === 'darwin'
  ? 'install the Xcode command line tools (xcode-select --install), then npm rebuild'
  : 'apt-get install libopenblas-dev (and a C compiler: build-essential), then npm rebuild';

function giveUp(why) {
  rmSync(join(here, 'build'), { recursive: true, force: true });
  console.log(`alpaca-forge: native BLAS not built (${why}); training uses WebAssembly. For the fast CPU path: ${HOW}`);
  process.exit(0);
}

if (process.env.ALPACA_FORGE_NO_NATIVE === '1') giveUp('ALPACA_FORGE_NO_NATIVE=1');

// node-gyp ships with npm; npm names it in lifecycle scripts. A Node whose prefix has the headers (distribution
// packages, official tarballs) builds offline against them instead of downloading them.
const npmGyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = [process.env.npm_config_node_gyp, npmGyp].find((p) => p && existsSync(p));
if (!gyp) giveUp('node-gyp not found');
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
const build = spawnSync(process.execPath, [gyp, 'rebuild', ...nodedir], { cwd: here, encoding: 'utf8', timeout: 300_000 });
if (build.status !== 0) {
  const log = `${build.stdout ?? ''}\n${build.stderr ?? ''}`;
  writeFileSync(join(here, 'build.log'), log);
  const cause = /cblas\.h|Accelerate\.h/.test(log) ? 'no CBLAS header'
    : /cannot find -l|library not found/.test(log) ? 'no BLAS library'
    : /not found|No such file|ENOENT|command not found/.test(log) ? 'no C compiler or build tools'
    : `node-gyp failed, see ${join('native', 'build.log')}`;
  giveUp(cause);
}
// A build that links but cannot multiply is no fast path: check one product before keeping it.
try {
  const blas = createRequire(import.meta.url)(addon);
  const c = new Float32Array(1);
  blas.sgemmBatched(false, false, 1, 1, 2, new Float32Array([2, 3]), new Float32Array([5, 7]), c, 1, 0, 0);
  if (c[0] !== 31) throw new Error(`1×2·2×1 gave ${c[0]}, expected 31`);
  console.log(`alpaca-forge: native BLAS built (${blas.config().split(' ').slice(0, 2).join(' ')})`);
} catch (e) {
  giveUp(`the built addon does not work: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`);
}
