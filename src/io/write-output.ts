import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readlinkSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, parse, relative, resolve, sep } from 'node:path';
import { DataError, UsageError } from '../errors.js';

/**
 * The one way every command writes an output file (export, curate --out/--rejected/--report, score/sample --out,
 * stats --report, merge and train outputs):
 * - `-` is stdout;
 * - a symlink is written through: the temp file goes beside its target and is renamed onto the target;
 * - a device, FIFO or socket is written directly (renaming over /dev/stdout would replace the device);
 * - a regular (or new) file is written to a temp file beside it and renamed, so a crash never leaves half a file;
 * - missing parent folders are created (as --report always did);
 * - no temp file survives an error, and errors name the path as the user typed it.
 */
export interface WriteOutputOptions {
  /** The flag the path came from, for errors (e.g. "--out"). Defaults to "output". */
  label?: string;
  /** Where `-` goes. Defaults to process.stdout. */
  stdout?: (text: string) => void;
}

export const STDOUT_PATH = '-';

// The process's own stdout by name: written through the stdout writer like `-`, since reopening it fails when
// stdout is a socket (as under many process managers) and would bypass the writer's EPIPE handling.
const STDOUT_NAMES = new Set(['/dev/stdout', '/dev/fd/1', '/proc/self/fd/1']);

/** `-`, /dev/stdout and the like. */
export function isStdoutPath(path: string): boolean {
  return path === STDOUT_PATH || STDOUT_NAMES.has(resolve(path));
}

/** Writes `data` to `path` (see above). */
export function writeOutput(path: string, data: string | Uint8Array, opts: WriteOutputOptions = {}): void {
  if (isStdoutPath(path)) {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    (opts.stdout ?? ((s: string) => void process.stdout.write(s)))(text);
    return;
  }
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  writeOutputWith(path, (fd) => writeAll(fd, bytes), opts);
}

/** writeSync may write less than asked to a pipe or FIFO; loop until all of it is out. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Like writeOutput, for writers that stream into a file descriptor (safetensors shards): `fill` writes the whole
 * content into `fd`; `-` is refused, as such files are binary.
 */
export function writeOutputWith(path: string, fill: (fd: number) => void, opts: WriteOutputOptions = {}): void {
  const label = opts.label ?? 'output';
  if (isStdoutPath(path)) throw new UsageError(`${label} ${path}: this output cannot go to stdout`, `pass a file path for ${label}`);
  const target = resolveOutputTarget(path, label);
  if (target.kind === 'special') {
    // Devices and FIFOs: open and write in place, the way `> /dev/stdout` does.
    writeThrough(path, target.path, label, fill);
    return;
  }
  ensureParentFolder(path, target.path, label);
  const tmp = join(dirname(target.path), `.${basename(target.path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      fill(fd);
      // An existing file keeps its permissions (a dataset someone made group-readable stays so).
      if (target.mode !== null) chmodSync(tmp, target.mode);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target.path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created, or already renamed */
    }
    throw writeError(path, label, e);
  }
}

/**
 * For outputs appended to as work proceeds (score/sample --out, resumable): the same checks and parent folders as
 * writeOutput, before any work starts. Returns the path to append to.
 */
export function prepareAppendOutput(path: string, label = 'output'): string {
  if (isStdoutPath(path)) throw new UsageError(`${label} ${path}: this output is resumable and must be a file`, `pass a file path for ${label}, e.g. answers.jsonl`);
  const target = resolveOutputTarget(path, label);
  if (target.kind === 'file') ensureParentFolder(path, target.path, label);
  return path;
}

export type OutputTarget = { kind: 'file'; path: string; mode: number | null } | { kind: 'special'; path: string };

/**
 * Finds the file that will really be written. An existing path is followed through its links (realpath); a
 * missing one, or a dangling symlink, is followed link by link to where `>` would create the file. Anything that
 * is not a regular file (device, FIFO, socket) is written in place, and so is every path through /dev or /proc:
 * /dev/stdout leads to /proc/self/fd/1, whose "target" may be a pipe with no path at all.
 */
export function resolveOutputTarget(path: string, label = 'output'): OutputTarget {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'file', path: followDangling(path, label), mode: null };
    if (code === 'ENOTDIR') throw notAFolder(path, label, resolve(path));
    throw writeError(path, label, e);
  }
  if (st.isDirectory()) throw new UsageError(`${label} ${path} is a directory`, `pass a file path, e.g. ${join(path, 'out.json')}`);
  const real = realpathSync(path);
  if (!st.isFile() || isKernelPath(resolve(path)) || isKernelPath(real)) return { kind: 'special', path };
  return { kind: 'file', path: real, mode: st.mode & 0o7777 };
}

const isKernelPath = (p: string) => p.startsWith('/dev/') || p.startsWith('/proc/');

function followDangling(path: string, label: string): string {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return p;
      if (code === 'ENOTDIR') throw notAFolder(path, label, p);
      throw writeError(path, label, e);
    }
    if (!st.isSymbolicLink()) return p;
    p = resolve(dirname(p), readlinkSync(p));
  }
  throw new UsageError(`${label} ${path}: too many levels of symbolic links`, 'point it at a file');
}

function writeThrough(path: string, target: string, label: string, fill: (fd: number) => void): void {
  let fd: number;
  try {
    fd = openSync(target, 'w');
  } catch (e) {
    throw writeError(path, label, e);
  }
  try {
    fill(fd);
  } catch (e) {
    throw writeError(path, label, e);
  } finally {
    closeSync(fd);
  }
}

function ensureParentFolder(path: string, target: string, label: string): void {
  const dir = dirname(target);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw notAFolder(path, label, dir);
    throw writeError(path, label, e);
  }
}

/**
 * For outputs that are folders (a run, init's DIR, merge --out): refuses, in one line naming it, a path that is a
 * file or lies under one, instead of the raw EEXIST/ENOTDIR mkdir would give.
 */
export function assertFolderPath(path: string, label: string, hint: string): void {
  const blocker = firstNonFolder(resolve(path));
  if (blocker === null) return;
  const shown = shownPath(blocker);
  throw new UsageError(
    blocker === resolve(path) ? `${label} ${path} is a file, not a folder` : `${label} ${path}: ${shown} is a file, not a folder`,
    hint,
  );
}

function notAFolder(path: string, label: string, dir: string): UsageError {
  const blocker = firstNonFolder(dir) ?? dir;
  return new UsageError(`${label} ${path}: ${shownPath(blocker)} is a file, not a folder`, `choose another path for ${label}, or move that file away`);
}

/** The first component of absolute `dir` that exists and is not a folder; null when there is none. */
function firstNonFolder(dir: string): string | null {
  const root = parse(dir).root;
  let at = root;
  for (const part of dir.slice(root.length).split(sep).filter(Boolean)) {
    at = join(at, part);
    let st;
    try {
      st = statSync(at);
    } catch {
      return null; // missing from here on: it can be created
    }
    if (!st.isDirectory()) return at;
  }
  return null;
}

/** A path as the user most likely typed it: relative to the working directory when under it. */
function shownPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') ? rel : abs;
}

function writeError(path: string, label: string, e: unknown): unknown {
  if (e instanceof UsageError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === undefined) return e;
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOSPC: 'no space left on the device',
    EROFS: 'read-only file system',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a parent is a file, not a folder',
  };
  return new DataError(`${label} ${path}: cannot write (${why[code] ?? code})`, `choose another path for ${label}, or fix its permissions or free space`, e);
}

/**
 * Refuses an output that is one of the inputs: renaming the output over its input would lose every item not
 * written (curate keeps a subset), and the resumable writers would read their own input as finished work.
 * Compares the files themselves (device and inode), so a symlink or hard link to the input counts as the input.
 */
export function assertNotInput(output: { path: string; label: string }, inputs: Array<{ path: string; label: string }>): void {
  if (isStdoutPath(output.path)) return;
  let out;
  try {
    out = statSync(output.path);
  } catch {
    return; // a new file cannot be an input
  }
  for (const input of inputs) {
    let st;
    try {
      st = statSync(input.path);
    } catch {
      continue;
    }
    if (st.dev === out.dev && st.ino === out.ino) {
      throw new UsageError(
        `${output.label} ${output.path} is the input file (${input.label} ${input.path}); writing it would replace the data being read`,
        `choose another path for ${output.label}`,
      );
    }
  }
}
