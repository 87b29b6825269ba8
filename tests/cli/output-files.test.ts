import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

const DATA = [
  { instruction: 'Write a short poem about the sea at night.', input: '', output: 'Waves whisper under the moon.' },
  { instruction: 'Explain how a bicycle gear system works.', input: '', output: 'Gears change the ratio between pedal and wheel.' },
  { instruction: 'List three uses of baking soda at home.', input: '', output: 'Cleaning, baking, deodorising.' },
];

function dataDir(): { dir: string; data: string } {
  const dir = mkdtempSync(join(tmpdir(), 'forge-out-'));
  const data = join(dir, 'data.jsonl');
  writeFileSync(data, DATA.map((d) => JSON.stringify(d)).join('\n') + '\n');
  return { dir, data };
}

const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tmp'));

test('--out - writes the kept items to stdout and creates no file named "-"', async () => {
  const { dir, data } = dataDir();
  const r = await runCli(['curate', '--in', data, '--out', '-'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(dir, '-')), false);
  const kept = JSON.parse(r.stdout) as unknown[];
  assert.equal(kept.length, 3, 'stdout holds only the dataset (the summary goes to stderr)');
  assert.match(r.stderr, /3 kept/);
});

test('export --out - writes JSONL to stdout', async () => {
  const { dir } = dataDir();
  const { RunStore } = await import('../../src/store/run-store.js');
  const runDir = join(dir, 'run');
  const store = RunStore.open(runDir, { create: true });
  const req = store.beginRequest([]);
  store.completeRequest(req, { raw: '[]', finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 }, DATA.map((d, idx) => ({ id: store.allocateItemId(), idx, ...d, status: 'kept' as const, reason: null, duplicateOf: null, similarity: null, similar: [] })));
  store.close();
  const r = await runCli(['export', '--run', runDir, '--out', '-', '--format', 'jsonl'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 3);
  assert.equal(existsSync(join(dir, '-')), false);
});

test('a symlinked --out is written through to its target; the link stays a link', async () => {
  const { dir, data } = dataDir();
  mkdirSync(join(dir, 'real'));
  const target = join(dir, 'real', 'curated.json');
  writeFileSync(target, 'old');
  const link = join(dir, 'link.json');
  symlinkSync(target, link);
  const r = await runCli(['curate', '--in', data, '--out', link], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the symlink was not replaced by a regular file');
  assert.equal((JSON.parse(readFileSync(target, 'utf8')) as unknown[]).length, 3);
  assert.deepEqual(leftovers(dir), []);
  assert.deepEqual(leftovers(join(dir, 'real')), []);
});

test('a FIFO as --out is written directly, never renamed over', async () => {
  const { dir, data } = dataDir();
  const fifo = join(dir, 'pipe');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo works here');
  const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  reader.stdout.on('data', (d: Buffer) => (got += d.toString()));
  const r = await runCli(['curate', '--in', data, '--out', fifo], { cwd: dir });
  // Old code renamed a regular file over the FIFO, so no writer ever opened it and cat would wait for ever.
  const closed = await Promise.race([new Promise((res) => reader.once('close', () => res(true))), new Promise((res) => setTimeout(() => res(false), 3000))]);
  if (!closed) reader.kill();
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(fifo).isFIFO(), 'the FIFO is still a FIFO');
  assert.equal((JSON.parse(got) as unknown[]).length, 3);
  assert.deepEqual(leftovers(dir), []);
});

test('--out /dev/stdout (and /proc/self/fd/1, where it points) is stdout, never renamed over', async () => {
  const { dir, data } = dataDir();
  for (const out of ['/proc/self/fd/1', '/dev/stdout']) {
    const r = await runCli(['curate', '--in', data, '--out', out], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 3, out);
  }
  assert.ok(!lstatSync('/dev/stdout').isFile(), '/dev/stdout is still a link to the process stdout');
});

test('--out DIR is a one-line error naming it, and leaves no temp file behind', async () => {
  const { dir, data } = dataDir();
  mkdirSync(join(dir, 'od'));
  const r = await runCli(['curate', '--in', data, '--out', 'od'], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error: --out od is a directory/m);
  assert.doesNotMatch(r.stderr, /EISDIR|tmp/);
  assert.deepEqual(leftovers(dir), []);
  assert.deepEqual(readdirSync(join(dir, 'od')), []);
});

test('missing parent folders of --out and --rejected are created, as for --report', async () => {
  const { dir, data } = dataDir();
  const out = join(dir, 'a', 'b', 'kept.jsonl');
  const rejected = join(dir, 'c', 'rejected.jsonl');
  const r = await runCli(['curate', '--in', data, '--out', out, '--rejected', rejected], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 3);
  assert.ok(existsSync(rejected));
});

test('--out under a path whose parent is a file: one line naming it, no temp file', async () => {
  const { dir, data } = dataDir();
  writeFileSync(join(dir, 'plain'), 'x');
  const r = await runCli(['curate', '--in', data, '--out', join('plain', 'kept.json')], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^error: --out plain\/kept\.json: plain is a file, not a folder/m);
  assert.doesNotMatch(r.stderr, /ENOTDIR|EEXIST|tmp-/);
  assert.deepEqual(leftovers(dir), []);
});

test('the same file in and out is refused and the input is untouched (curate, score, sample, stats)', async () => {
  const { dir, data } = dataDir();
  const before = readFileSync(data, 'utf8');
  const link = join(dir, 'alias.jsonl');
  symlinkSync(data, link);
  for (const args of [
    ['curate', '--in', data, '--out', data],
    ['curate', '--in', data, '--out', link],
    ['curate', '--in', data, '--out', join(dir, 'ok.json'), '--rejected', join(dir, '.', 'data.jsonl')],
    ['score', '--model', join(dir, 'no-model'), '--data', data, '--out', link],
    ['sample', '--model', join(dir, 'no-model'), '--data', link, '--out', data],
    ['stats', '--in', data, '--report', link],
  ]) {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /is the input file/, args.join(' '));
    assert.equal(readFileSync(data, 'utf8'), before, `${args.join(' ')} left the input as it was`);
  }
});

