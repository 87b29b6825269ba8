import type { ForgeConfig } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import type { CommandContext } from './command.js';
import { flagString } from './flags.js';

/** Every command's `--config FILE` (default ./forge.yaml if present). */
export const configOption = { config: { type: 'string' as const } };

export function readConfig(ctx: CommandContext): { config: ForgeConfig; file: string | null } {
  return loadConfig(flagString(ctx.values, 'config'));
}
