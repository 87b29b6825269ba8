import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { decideOutputMode } from '../../src/cli/output-mode.js';

const tty = { stdinIsTTY: true, stdoutIsTTY: true, stderrColumns: 90 };
const piped = { stdinIsTTY: false, stdoutIsTTY: false, stderrColumns: undefined };

test('output mode is decided from the streams, CI, NO_COLOR and --json', () => {
  assert.deepEqual(decideOutputMode(tty, {}, false), { format: 'tty', screen: true, color: true, columns: 90 });
  assert.deepEqual(decideOutputMode(piped, {}, false), { format: 'plain', screen: false, color: true, columns: 120 });
  assert.equal(decideOutputMode(tty, {}, true).format, 'json');
  assert.equal(decideOutputMode(tty, {}, true).screen, false, '--json never opens the screen');
  assert.equal(decideOutputMode(tty, { CI: '1' }, false).format, 'plain');
  assert.equal(decideOutputMode(tty, { CI: '1' }, false).screen, false);
  assert.equal(decideOutputMode({ ...tty, stdinIsTTY: false }, {}, false).screen, false, 'the screen needs stdin too');
  assert.equal(decideOutputMode({ ...tty, stdinIsTTY: false }, {}, false).format, 'tty');
  assert.equal(decideOutputMode(tty, { NO_COLOR: '1' }, false).color, false);
  assert.equal(decideOutputMode(tty, { NO_COLOR: '' }, false).color, true, 'an empty NO_COLOR does not count (no-color.org)');
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : /\.tsx?$/.test(n) ? [p] : [];
  });
}

test('commands and the UI launcher take TTY, argv and streams from their context, never from process', () => {
  const files = [...sources('src/cli/commands'), 'src/cli/generate-output.ts', 'src/ui/launch.tsx'];
  const offenders = files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => (/process\.(argv|stdin|stdout|stderr)\b/.test(line) && !line.trim().startsWith('*') && !line.trim().startsWith('//') ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(offenders, []);
});

test('src/ has no import cycle (static or lazy)', () => {
  const graph = new Map<string, string[]>();
  for (const f of sources('src')) {
    const deps: string[] = [];
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)) {
      const base = resolve(dirname(f), m[1]!).replace(/\.js$/, '');
      const hit = ['.ts', '.tsx'].map((e) => base + e).find((p) => existsSync(p));
      if (hit) deps.push(hit);
    }
    graph.set(resolve(f), deps);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (v: string) => {
    state.set(v, 'open');
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (state.get(w) === 'open') cycles.push([...stack.slice(stack.indexOf(w)), w].map((p) => relative(process.cwd(), p)).join(' → '));
      else if (!state.has(w)) visit(w);
    }
    stack.pop();
    state.set(v, 'done');
  };
  for (const v of graph.keys()) if (!state.has(v)) visit(v);
  assert.deepEqual(cycles, []);
});

test('one duration formatter: defined once, outside ui/, with the formats the screens and logs show', async () => {
  const defs = sources('src').filter((f) => /function formatDuration\b/.test(readFileSync(f, 'utf8')));
  assert.deepEqual(defs, [join('src', 'format.ts')]);
  const { formatDuration } = await import('../../src/format.js');
  assert.equal(formatDuration(42), '42s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(-3), '0s');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatDuration(Infinity, '?'), '?');
  const { formatStep } = await import('../../src/train/progress-text.js');
  assert.match(formatStep({ type: 'step', step: 3, total: 10, epoch: 0.3, loss: 1.5, lr: 1e-4, gradNorm: 0.5, tokensPerSec: 100, etaSec: 185 } as never), /eta 3m05s$/);
  const { runSummaryLines } = await import('../../src/curate/report-render.js');
  const lines = runSummaryLines({ byStatus: {}, byReason: {}, byReview: {}, target: null, elapsedMs: 3_725_000, startedAt: null, lang: 'en', requests: { total: 0, ok: 0, failed: 0, inFlight: 0, abandoned: 0 }, judgeRequests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 } as never);
  assert.ok(lines.some((l) => l.startsWith('elapsed: 1h02m')), lines.join('\n'));
});

// The folders' order, lowest first: a folder may import its own files and any folder before it, never one after it.
// Data flows cli/ui → engine → store (STYLE.md); a new folder is placed here on purpose, or this test fails.
const FOLDER_ORDER = [
  '.', 'io', 'data', 'config', 'events', 'store', 'model', 'llm', 'pairs', 'curate', 'train', 'generate', 'respond', 'review', 'ui', 'cli',
];

test('no import runs back up: a folder imports only itself and the folders below it', () => {
  const folderOf = (abs: string) => {
    const rel = relative(resolve('src'), abs).split(/[\\/]/);
    return rel.length === 1 ? (rel[0] === 'events.ts' ? 'events' : '.') : rel[0]!;
  };
  const offenders: string[] = [];
  for (const f of sources('src')) {
    const from = folderOf(resolve(f));
    const rank = FOLDER_ORDER.indexOf(from);
    if (rank < 0) { offenders.push(`${f}: folder ${from} has no place in FOLDER_ORDER`); continue; }
    for (const m of readFileSync(f, 'utf8').matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)) {
      const to = folderOf(resolve(dirname(f), m[1]!));
      if (to !== from && FOLDER_ORDER.indexOf(to) > rank) offenders.push(`${f} imports ${m[1]} (${from} → ${to} runs back up)`);
    }
  }
  assert.deepEqual(offenders, []);
});
