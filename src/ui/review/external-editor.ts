import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sample } from '../../data/sample.js';

const fields = ['instruction', 'input', 'output'] as const;
const header = (f: string) => `### ${f}`;

/** The file the editor sees: each text under a `### name` line. Lines starting with `#!` are notes, ignored on read. */
export function formatEditorFile(text: Sample): string {
  return [
    '#! Edit the texts below each ### line; keep the ### lines. Save and quit to apply, or quit without saving to cancel.',
    ...fields.flatMap((f) => [header(f), text[f]]),
    '',
  ].join('\n');
}

/** Reads the edited file back; null when a ### line is missing (the edit is then not applied). */
export function parseEditorFile(content: string): Sample | null {
  const lines = content.replace(/\r\n/g, '\n').split('\n');
  const at = fields.map((f) => lines.indexOf(header(f)));
  if (at.some((i) => i === -1) || !(at[0]! < at[1]! && at[1]! < at[2]!)) return null;
  const section = (from: number, to: number) =>
    lines
      .slice(from + 1, to)
      .filter((l) => !l.startsWith('#!'))
      .join('\n')
      .replace(/\n+$/, '');
  return { instruction: section(at[0]!, at[1]!), input: section(at[1]!, at[2]!), output: section(at[2]!, lines.length) };
}

/**
 * Hands the terminal to `editor` (the user's $VISUAL/$EDITOR command line, which may carry arguments) on a
 * temporary file and returns the edited texts, or null when the editor failed, nothing changed or the file lost
 * its ### lines. `suspend`/`resume` give the terminal up and take it back (raw mode, screen).
 */
export function editInExternalEditor(text: Sample, editor: string, terminal: { suspend: () => void; resume: () => void }): Sample | null {
  const dir = mkdtempSync(join(tmpdir(), 'forge-edit-'));
  const file = join(dir, 'sample.md');
  try {
    const before = formatEditorFile(text);
    writeFileSync(file, before);
    terminal.suspend();
    let status: number | null;
    try {
      status = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' }).status;
    } finally {
      terminal.resume();
    }
    if (status !== 0) return null;
    const after = readFileSync(file, 'utf8');
    if (after === before) return null;
    return parseEditorFile(after);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
