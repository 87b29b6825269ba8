#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { commandLoaders } from './commands/index.js';
import { ForgeError, UsageError, exitCodeFor, formatError } from '../errors.js';
import type { CommandContext } from './command.js';
import { decideOutputMode } from './output-mode.js';

const globalHelp = () =>
  [
    'alpaca-forge — generate, curate, review and fine-tune instruction data',
    '',
    'usage: alpaca-forge <command> [options]     (alpaca-forge <command> --help for its options)',
    '',
    ...Object.entries(commandLoaders).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '',
    'Output files (--out, --report, --rejected): missing parent folders are created, a symlink is written through',
    'to its target, an existing file is replaced atomically, and `-` means stdout where a dataset is written.',
    '',
  ].join('\n');

/**
 * The reader of stdout can go away (`alpaca-forge stats … | head`). Writing on then fails with EPIPE; instead of
 * a stack trace, output ends quietly, the running command is stopped as for Ctrl-C, and the exit code says so.
 */
const stdoutState = { closed: false };
const stopped = new AbortController();
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  stdoutState.closed = true;
  // The error can arrive after the command has returned (the last write failed asynchronously).
  process.exitCode = exitCodeFor('output-closed');
  stopped.abort(new ForgeError('output-closed', 'stdout was closed by its reader'));
});
// Diagnostics piped into a reader that left are dropped; the command itself goes on.
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});
const writeOut = (text: string) => {
  if (!stdoutState.closed) process.stdout.write(text);
};
const writeErr = (text: string) => {
  if (!process.stderr.destroyed) process.stderr.write(text);
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // With no command on a terminal the home screen opens (the review command without --run is the home screen).
    if (modeFor(false).screen) return runCommand('review', rest, argv);
    writeOut(globalHelp());
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    writeOut(globalHelp());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    writeOut('0.1.0\n');
    return 0;
  }
  return runCommand(name, rest, argv);
}

function modeFor(json: boolean) {
  return decideOutputMode(
    { stdinIsTTY: Boolean(process.stdin.isTTY), stdoutIsTTY: Boolean(process.stdout.isTTY), stderrColumns: process.stderr.isTTY ? process.stderr.columns : undefined },
    process.env,
    json,
  );
}

async function runCommand(name: string, rest: string[], argv: string[]): Promise<number> {
  const loader = commandLoaders[name];
  if (!loader) throw new UsageError(`unknown command "${name}"`, 'run `alpaca-forge --help` for the list of commands');
  const command = await loader.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    writeOut(`${command.usage}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${name}: ${(e as Error).message}`, `see \`alpaca-forge ${name} --help\``);
  }
  let interrupts = 0;
  const onSignal = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(exitCodeFor('interrupted'));
    writeErr(`\n${command.onInterrupt ?? 'stopping…'} (Ctrl-C again to quit at once)\n`);
    stopped.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const output = modeFor(parsed.values['json'] === true);
  const ctx: CommandContext = {
    values: parsed.values as CommandContext['values'],
    positionals: parsed.positionals,
    env: process.env,
    argv,
    out: (line) => writeOut(`${line}\n`),
    err: (line) => writeErr(`${line}\n`),
    write: writeOut,
    writeErr,
    output,
    terminal: output.screen ? { stdin: process.stdin, stdout: process.stdout } : null,
    interactive: Boolean(process.stdout.isTTY) && !process.env['CI'],
    signal: stopped.signal,
  };
  try {
    return await command.run(ctx);
  } catch (err) {
    // A --json reader sees how the command ended on stdout, as its last event; the one-line error still goes to stderr.
    if (output.format === 'json') writeOut(`${JSON.stringify(errorEvent(err))}\n`);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The last --json event of a command that failed: what the terminal's error line says, and the exit code. */
function errorEvent(err: unknown): { type: 'error'; code: string; message: string; hint?: string; exitCode: number } {
  if (err instanceof ForgeError) return { type: 'error', code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}), exitCode: err.exitCode };
  return { type: 'error', code: 'internal', message: err instanceof Error ? err.message : String(err), exitCode: exitCodeFor('internal') };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = stdoutState.closed ? exitCodeFor('output-closed') : code;
  },
  (err: unknown) => {
    writeErr(`${formatError(err)}\n`);
    if (process.env['FORGE_DEBUG'] && err instanceof Error) writeErr(`${err.stack}\n`);
    process.exitCode = stdoutState.closed ? exitCodeFor('output-closed') : err instanceof ForgeError ? err.exitCode : exitCodeFor('internal');
  },
);
