import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { flagBool } from '../flags.js';
import { renderDefaultConfig } from '../../config/render-default.js';
import { UsageError } from '../../errors.js';
import { assertFolderPath, writeOutput } from '../../io/write-output.js';

export const command: Command = {
  name: 'init',
  summary: 'write a commented forge.yaml',
  usage: `usage: alpaca-forge init [DIR] [--force]

Writes DIR/forge.yaml (default: the current directory) with every setting, its default and what it does.
Refuses to overwrite an existing file unless --force is given.`,
  options: { force: { type: 'boolean' } },
  async run(ctx) {
    const dir = ctx.positionals[0] ?? '.';
    assertFolderPath(dir, 'init', 'pass a folder for forge.yaml (it is created if missing), e.g. `alpaca-forge init config/`');
    const file = join(dir, 'forge.yaml');
    if (existsSync(file) && !flagBool(ctx.values, 'force')) {
      throw new UsageError(`${file} already exists`, 'pass --force to overwrite it');
    }
    writeOutput(file, renderDefaultConfig(), { label: 'init' });
    ctx.out(`wrote ${file}`);
    return 0;
  },
};
