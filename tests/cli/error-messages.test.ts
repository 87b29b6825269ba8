import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, writeSafetensors } from '../../src/model/safetensors.js';
import { ModelError } from '../../src/errors.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { runCli, spawnCli, waitForLine } from '../helpers/cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'forge-errs-'));

/** The error is one line plus one hint line, and shows no raw errno code. */
function oneLineError(stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 2, stderr);
  assert.match(lines[0]!, re);
  assert.match(lines[1]!, /^ {2}→ /);
  assert.doesNotMatch(stderr, /EEXIST|ENOTDIR|EISDIR|ENOENT/);
}

test('init, generate --run and merge --out pointing at a file: one line naming the path and what to do', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'afile'), 'x');
  const cases: Array<[string[], RegExp]> = [
    [['init', 'afile'], /^error: init afile is a file, not a folder$/],
    [['init', 'afile/sub'], /^error: init afile\/sub: afile is a file, not a folder$/],
    [['generate', '--run', 'afile', '--model', 'm', '--base-url', 'http://127.0.0.1:9'], /^error: --run afile is a file, not a folder$/],
    [['generate', '--run', 'afile/run', '--model', 'm', '--base-url', 'http://127.0.0.1:9'], /^error: --run afile\/run: afile is a file, not a folder$/],
    [['merge', '--model', 'm', '--adapter', 'a', '--out', 'afile'], /^error: --out afile is a file, not a folder$/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    oneLineError(r.stderr, re);
  }
});

test('malformed JSON in a data file, a JSONL line, --data and seeds is reported as file:line:column', async () => {
  const dir = tmp();
  writeFileSync(join(dir, 'a.json'), '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c", "output": tru}\n]\n');
  writeFileSync(join(dir, 'b.jsonl'), '{"instruction":"a","output":"b"}\n{"instruction":"a",}\n');
  writeFileSync(join(dir, 'seeds.jsonl'), '{"id":"a","name":"n","instruction":"x","instances":[{"input":"","output":"y"}],"is_classification":fals}\n');
  const cases: Array<[string[], RegExp]> = [
    [['stats', '--in', 'a.json'], /^error: a\.json:3:37: not valid JSON \(Unexpected token '\}'\)$/],
    [['stats', '--in', 'b.jsonl'], /^error: b\.jsonl:2:20: not valid JSON \(Expected double-quoted property name\)$/],
    [['score', '--model', 'nowhere', '--data', 'a.json', '--out', 'scores.jsonl'], /^error: a\.json:3:37: not valid JSON/],
    [['generate', '--run', 'r', '--seeds', 'seeds.jsonl', '--model', 'm', '--base-url', 'http://127.0.0.1:9'], /^error: \/\S*\/seeds\.jsonl:1:104: not valid JSON \(Unexpected token '\}'\)$/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
    oneLineError(r.stderr, re);
    assert.doesNotMatch(r.stderr, /position/);
  }
});

test('a truncated safetensors file says so, not that its header is corrupt', () => {
  const path = join(tmp(), 'w.safetensors');
  writeSafetensors(path, { a: { dtype: 'F32', shape: [64], data: new Float32Array(64) }, b: { dtype: 'F32', shape: [64], data: new Float32Array(64) } });
  const full = readFileSync(path);
  for (const cut of [full.length - 10, 20, 4]) {
    writeFileSync(path, full.subarray(0, cut));
    let err: unknown;
    try {
      openSafetensors(path).close();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ModelError, `cut at ${cut}: ${String(err)}`);
    assert.match(err.hint ?? '', /shorter than its header says/, `cut at ${cut}`);
    assert.doesNotMatch(err.hint ?? '', /header is corrupt/);
  }
  // A damaged (not shortened) header is still called corrupt.
  const bad = Buffer.from(full);
  bad.write('#garbage', 8);
  writeFileSync(path, bad);
  assert.throws(() => openSafetensors(path), (e: ModelError) => /corrupt safetensors header/.test(e.message) && !/shorter/.test(e.hint ?? ''));
});

test('Ctrl-C in generate says what happens to requests in flight', async () => {
  const server = await startFakeServer({ latencyMs: 2000 });
  try {
    const cli = spawnCli(['generate', '--run', join(tmp(), 'run'), '--target', '100000', '--base-url', server.url, '--model', 'm']);
    await waitForLine(cli, (line) => /starting /.test(line), { stream: 'stderr' });
    cli.child.kill('SIGINT');
    const { code, stderr } = await cli.exited;
    assert.equal(code, 130);
    assert.match(stderr, /stopping: finished answers are saved; requests still in flight are abandoned, and resuming sends new ones in their place/);
    assert.doesNotMatch(stderr, /after in-flight work is saved/);
  } finally {
    await server.close();
  }
});
