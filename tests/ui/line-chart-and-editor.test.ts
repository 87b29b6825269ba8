import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineChart } from '../../src/ui/train/line-chart.js';
import { editInExternalEditor, formatEditorFile, parseEditorFile } from '../../src/ui/review/external-editor.js';

const text = (runs: Array<{ text: string }>) => runs.map((r) => r.text).join('');

test('a falling loss is drawn from the top-left to the bottom-right, eval points over it', () => {
  const loss = Array.from({ length: 100 }, (_, i) => [i + 1, 3 - (2 * i) / 99] as [number, number]);
  const chart = lineChart([{ points: loss, glyph: '•' }, { points: [[50, 2], [100, 1.2]], glyph: '◆' }], 60, 12, 100);
  assert.equal(chart.rows.length, 12);
  const lines = chart.rows.map(text);
  assert.ok(lines.every((l) => l.length === lines[0]!.length || l.includes('step')), 'rows of equal width');
  const top = lines[0]!;
  const bottom = lines[10]!;
  assert.match(top, /3\.00┤ ?•/, 'max at the top, first point at the left edge (x axis starts at step 0)');
  assert.match(bottom, /1\.00┤.*•$/, 'min at the bottom, last point in the last column');
  assert.ok(lines.some((l) => l.includes('◆')));
  assert.match(lines[11]!, /step 100$/);
  // series indices let the screen colour each curve
  assert.ok(chart.rows.flat().some((r) => r.series === 1 && r.text === '◆'));
});

test('axis labels get the decimals that tell them apart', () => {
  const lines = lineChart([{ points: [[1, 6.2], [2, 6.1973]], glyph: '•' }], 40, 9).rows.map(text);
  const labels = lines.map((l) => l.slice(0, 6).trim()).filter(Boolean);
  assert.equal(new Set(labels).size, labels.length, `distinct labels: ${labels.join(', ')}`);
  assert.deepEqual(labels, ['6.200', '6.199', '6.197']);
});

test('an empty or flat series still draws an axis', () => {
  assert.equal(lineChart([{ points: [], glyph: '•' }], 40, 6).rows.length, 6);
  const flat = lineChart([{ points: [[1, 2], [2, 2]], glyph: '•' }], 40, 6);
  assert.ok(flat.yMax > flat.yMin);
});

test('the $EDITOR file round-trips the three texts, multi-line output included', () => {
  const t = { instruction: 'Sort the list.', input: '3, 1, 2', output: 'Sorted:\n1, 2, 3\n' };
  assert.deepEqual(parseEditorFile(formatEditorFile(t)), { ...t, output: 'Sorted:\n1, 2, 3' });
  assert.equal(parseEditorFile('### instruction\nx\n### output\ny\n'), null, 'a removed ### line cancels the edit');
});

test('$EDITOR runs on a temp file with the terminal handed over, and its changes come back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-editor-'));
  const editor = join(dir, 'fake-editor.sh');
  // A scripted "editor": rewrites the output section's text.
  writeFileSync(editor, '#!/bin/sh\nsed -i "s/^Bonjour\\.$/Bonjour !/" "$1"\n');
  chmodSync(editor, 0o755);
  const calls: string[] = [];
  const terminal = { suspend: () => calls.push('suspend'), resume: () => calls.push('resume') };
  const out = editInExternalEditor({ instruction: 'Translate.', input: 'good morning', output: 'Bonjour.' }, editor, terminal);
  assert.deepEqual(out, { instruction: 'Translate.', input: 'good morning', output: 'Bonjour !' });
  assert.deepEqual(calls, ['suspend', 'resume']);
  assert.equal(editInExternalEditor({ instruction: 'a', input: '', output: 'b' }, 'true', terminal), null, 'an unchanged file is no edit');
  assert.equal(editInExternalEditor({ instruction: 'a', input: '', output: 'b' }, 'false', terminal), null, 'a failing editor is no edit');
});
