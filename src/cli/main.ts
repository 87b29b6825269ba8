#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { commandLoaders } from './commands/index.js';
import { ForgeError, UsageError, exitCodeFor, formatError } from '../errors.js';
import type { CommandContext } from './command.js';

const globalHelp = () =>
  [
    'alpaca-forge — generate, curate, review and fine-tune instruction data',
    '',
    'usage: alpaca-forge <command> [options]     (alpaca-forge <command> --help for its options)',
    '',
    ...Object.entries(commandLoaders).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`),
    '',
  ].join('\n');

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    if (process.stdout.isTTY && process.stdin.isTTY && !process.env['CI']) {
      const loader = commandLoaders['review'];
      // With no command on a terminal the home screen opens (the review command without --run is the home screen).
      if (loader) return runCommand('review', rest);
    }
    process.stdout.write(globalHelp());
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(globalHelp());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write('0.1.0\n');
    return 0;
  }
  return runCommand(name, rest);
}

async function runCommand(name: string, rest: string[]): Promise<number> {
  const loader = commandLoaders[name];
  if (!loader) throw new UsageError(`unknown command "${name}"`, 'run `alpaca-forge --help` for the list of commands');
  const command = await loader.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${name}: ${(e as Error).message}`, `see \`alpaca-forge ${name} --help\``);
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(exitCodeFor('interrupted'));
    process.stderr.write('\nstopping after in-flight work is saved… (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ctx: CommandContext = {
    values: parsed.values as CommandContext['values'],
    positionals: parsed.positionals,
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    interactive: Boolean(process.stdout.isTTY) && !process.env['CI'],
    signal: controller.signal,
  };
  try {
    return await command.run(ctx);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${formatError(err)}\n`);
    if (process.env['FORGE_DEBUG'] && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof ForgeError ? err.exitCode : exitCodeFor('internal');
  },
);
