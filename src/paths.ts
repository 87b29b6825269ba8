import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ForgeError } from './errors.js';

let root: string | undefined;

const packageName = (text: string): string | undefined => {
  const parsed = z.object({ name: z.string().optional() }).safeParse(JSON.parse(text));
  return parsed.success ? parsed.data.name : undefined;
};

/**
 * The installed package's root (where prompts/ and seeds/ live), found by walking up from this file, so the
 * same code works from src/ under tsx and from dist/src/ after the build.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && packageName(readFileSync(pkg, 'utf8')) === 'alpaca-forge') return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new ForgeError('internal', 'cannot find the alpaca-forge package root (its prompts/ and seeds/ are read from there)', { hint: 'reinstall alpaca-forge; the package looks incomplete' });
    dir = up;
  }
}

export const promptsDir = (): string => join(packageRoot(), 'prompts');
export const seedsDir = (): string => join(packageRoot(), 'seeds');
