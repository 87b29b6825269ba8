import type { CommandContext } from '../../src/cli/command.js';
import { decideOutputMode } from '../../src/cli/output-mode.js';

/**
 * A command context as main builds it for a non-terminal run (plain output, no screen), for tests that call a
 * command's run() directly. Raw writes are split into lines and go to `out`/`err` like the line writers.
 */
export function plainContext(c: Pick<CommandContext, 'values' | 'out' | 'err' | 'signal'> & Partial<CommandContext>): CommandContext {
  const json = c.values['json'] === true;
  return {
    positionals: [],
    env: {},
    argv: [],
    write: (text) => text.replace(/\n$/, '').split('\n').forEach((l) => c.out(l)),
    writeErr: (text) => text.replace(/\n$/, '').split('\n').forEach((l) => c.err(l)),
    output: decideOutputMode({ stdinIsTTY: false, stdoutIsTTY: false, stderrColumns: undefined }, c.env ?? {}, json),
    terminal: null,
    interactive: false,
    ...c,
  };
}
