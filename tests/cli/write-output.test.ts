import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { writeOutput, writeOutputWith } from '../../src/io/write-output.js';
import { readTrainLog, truncateTrainLog } from '../../src/train/train-log.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'forge-wo-'));

test('a writer that fails half way leaves the old file whole and no temp file', () => {
  const dir = tmp();
  const path = join(dir, 'out.json');
  writeFileSync(path, 'old content');
  assert.throws(
    () =>
      writeOutputWith(path, (fd) => {
        writeFileSync(fd, 'half of the new');
        throw new Error('disk gone');
      }),
    /disk gone/,
  );
  assert.equal(readFileSync(path, 'utf8'), 'old content');
  assert.deepEqual(readdirSync(dir), ['out.json']);
});

test('replacing a file keeps its permissions; a dangling symlink gets its target created', () => {
  const dir = tmp();
  const path = join(dir, 'shared.jsonl');
  writeFileSync(path, 'x');
  chmodSync(path, 0o640);
  writeOutput(path, 'y');
  assert.equal(statSync(path).mode & 0o777, 0o640);
  symlinkSync(join(dir, 'sub', 'target.json'), join(dir, 'link.json'));
  writeOutput(join(dir, 'link.json'), 'z');
  assert.equal(readFileSync(join(dir, 'sub', 'target.json'), 'utf8'), 'z');
});

test('train outputs go through the same helper: a symlinked train log is rewritten through its link', () => {
  const dir = tmp();
  const real = join(dir, 'real.jsonl');
  writeFileSync(real, `${JSON.stringify({ step: 1, loss: 2 })}\n${JSON.stringify({ step: 5, loss: 1 })}\n`);
  symlinkSync(real, join(dir, 'train_log.jsonl'));
  truncateTrainLog(join(dir, 'train_log.jsonl'), 3);
  assert.ok(lstatSync(join(dir, 'train_log.jsonl')).isSymbolicLink(), 'the link is still a link');
  assert.equal(readTrainLog(real).length, 1, 'the target was rewritten');
  assert.deepEqual(readdirSync(dir).sort(), ['real.jsonl', 'train_log.jsonl']);
});

test('no module writes a file with writeFileSync or renames one into place outside the shared writer', () => {
  // Writers of files the program owns (not a path the user named) are listed with why they may write directly.
  const internal: Record<string, string> = {
    'src/ui/review/external-editor.ts': 'a temporary file in its own mkdtemp folder, handed to $EDITOR',
    'src/train/checkpoint.ts': 'trainer state inside a checkpoint folder it creates and renames whole',
  };
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
  const offenders = files('src')
    .filter((f) => f !== join('src', 'io', 'write-output.ts') && !(f.split(sep).join('/') in internal))
    .flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\b(writeFileSync|renameSync)\s*\(/.test(line) && !/^\s*(\/\/|\*)/.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
  assert.deepEqual(offenders, [], 'write user-named outputs with writeOutput/writeOutputWith (src/io/write-output.ts)');
});
