import type { z } from 'zod';
import { stringify } from 'yaml';
import { forgeConfigSchema } from './schema.js';

/**
 * Writes forge.yaml with every setting at its default, each preceded by its description, straight from the zod
 * schema — so the file `init` writes can never drift from what the loader accepts.
 */
export function renderDefaultConfig(): string {
  const lines = [
    '# alpaca-forge configuration. Every setting is shown with its default; delete what you do not change.',
    '# Command-line flags override these values. API keys never go here: see generation.apiKeyEnv.',
    '',
  ];
  renderObject(forgeConfigSchema, 0, lines);
  return `${lines.join('\n')}\n`;
}

type AnySchema = z.core.$ZodType;

function def(s: AnySchema): { type: string; innerType?: AnySchema; defaultValue?: unknown; shape?: Record<string, AnySchema> } {
  return (s as unknown as { _zod: { def: { type: string; innerType?: AnySchema; defaultValue?: unknown; shape?: Record<string, AnySchema> } } })._zod.def;
}

function describe(s: AnySchema): string | undefined {
  return (s as unknown as { description?: string }).description;
}

/** Strips default/prefault/optional/nullable wrappers, remembering the default value. */
function unwrap(s: AnySchema): { core: AnySchema; defaultValue: unknown; hasDefault: boolean } {
  let cur = s;
  let defaultValue: unknown;
  let hasDefault = false;
  for (;;) {
    const d = def(cur);
    if ((d.type === 'default' || d.type === 'prefault') && !hasDefault) {
      defaultValue = typeof d.defaultValue === 'function' ? (d.defaultValue as () => unknown)() : d.defaultValue;
      hasDefault = true;
    }
    if (d.innerType && ['default', 'prefault', 'optional', 'nullable', 'readonly'].includes(d.type)) cur = d.innerType;
    else return { core: cur, defaultValue, hasDefault };
  }
}

function renderObject(schema: AnySchema, indent: number, out: string[]): void {
  const shape = def(unwrap(schema).core).shape ?? {};
  const pad = ' '.repeat(indent);
  for (const [key, field] of Object.entries(shape)) {
    const text = describe(field) ?? describe(unwrap(field).core);
    const { core, defaultValue, hasDefault } = unwrap(field);
    if (def(core).type === 'object') {
      if (indent === 0) out.push('');
      if (text) out.push(`${pad}# ${text}`);
      out.push(`${pad}${key}:`);
      renderObject(core, indent + 2, out);
      continue;
    }
    if (text) out.push(`${pad}# ${text}`);
    const value = hasDefault ? defaultValue : null;
    const rendered = stringify({ [key]: value }, { lineWidth: 0 }).trimEnd().split('\n');
    for (const l of rendered) out.push(`${pad}${l}`);
  }
}
