import { existsSync, readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { forgeConfigSchema, type ForgeConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'forge.yaml';

/**
 * Loads and validates forge.yaml. `path` undefined means ./forge.yaml if it exists, else all defaults.
 * Every problem becomes one line `file:line: field.path: what is expected`, all reported together.
 */
export function loadConfig(path: string | undefined, cwdFileExists: (p: string) => boolean = existsSync): { config: ForgeConfig; file: string | null } {
  const file = path ?? (cwdFileExists(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null);
  if (file === null) return { config: forgeConfigSchema.parse({}), file: null };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`], 'check --config, or run `alpaca-forge init` to create one');
  }
  return { config: parseConfigText(text, file), file };
}

export function parseConfigText(text: string, file: string): ForgeConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
        return `${file}:${line}: YAML syntax: ${e.message.split('\n')[0]}`;
      }),
      'fix the YAML syntax (indentation, quotes, colons)',
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = forgeConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, doc, lineCounter, file)));
}

function describeIssue(issue: z.core.$ZodIssue, doc: ReturnType<typeof parseDocument>, lc: LineCounter, file: string): string[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const full = [...path, key];
      return `${file}:${lineOf(doc, lc, full)}: ${full.join('.')}: unknown setting (check the spelling; \`alpaca-forge init\` lists every setting)`;
    });
  }
  const where = path.length ? path.join('.') : '(top level)';
  return [`${file}:${lineOf(doc, lc, path)}: ${where}: ${issue.message}`];
}

/** Line of the deepest existing node on the path (a missing key points at its parent section). */
function lineOf(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: string[]): number {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    const node = sub.length === 0 ? doc.contents : doc.getIn(sub, true);
    if (isNode(node) && node.range) {
      // For a key, point at the key's line rather than its value's (a block value starts on the next line).
      const pair = sub.length ? findPairKeyPos(doc, sub) : undefined;
      return lc.linePos(pair ?? node.range[0]).line;
    }
  }
  return 1;
}

function findPairKeyPos(doc: ReturnType<typeof parseDocument>, path: string[]): number | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (parent && typeof parent === 'object' && 'items' in parent && Array.isArray((parent as { items: unknown[] }).items)) {
    for (const item of (parent as { items: Array<{ key?: unknown }> }).items) {
      const key = item.key;
      if (isNode(key) && key.range && String((key as { value?: unknown }).value) === last) return key.range[0];
    }
  }
  return undefined;
}
