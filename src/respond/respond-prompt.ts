import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { promptsDir } from '../paths.js';

/**
 * The prompt that asks a model to answer one sample: prompts/respond.LANG.txt, or a file of the user's.
 * Placeholders {{instruction}} and {{input}}; a block between {{#input}} and {{/input}} is left out when the
 * sample has no input, so the model is never shown an empty "Input:" section.
 */
export interface RespondPrompt {
  file: string;
  body: string;
}

const PLACEHOLDERS = new Set(['instruction', 'input', '#input', '/input']);

export function loadRespondPrompt(name: string, lang: 'en' | 'zh'): RespondPrompt {
  const bundled = /^[a-z0-9_-]+$/i.test(name) ? join(promptsDir(), `${name}.${lang}.txt`) : null;
  const file = bundled && existsSync(bundled) ? bundled : name;
  if (!existsSync(file)) throw new ConfigError([`--prompt: no prompt "${name}" (looked for ${bundled ?? file})`], 'use "respond" or the path of a prompt file with {{instruction}} and {{input}}');
  const body = readFileSync(file, 'utf8');
  for (const [, ph] of body.matchAll(/\{\{([#/]?\w+)\}\}/g)) {
    if (!PLACEHOLDERS.has(ph!)) throw new ConfigError([`${file}: unknown placeholder {{${ph}}}`], 'placeholders are {{instruction}}, {{input}}, and {{#input}}…{{/input}} around text shown only when there is an input');
  }
  if (!body.includes('{{instruction}}')) throw new ConfigError([`${file}: a respond prompt needs {{instruction}}`]);
  return { file, body };
}

export function renderRespondPrompt(p: RespondPrompt, s: { instruction: string; input: string }): string {
  const hasInput = s.input.trim() !== '';
  const sectioned = p.body.replace(/\{\{#input\}\}\n?([\s\S]*?)\{\{\/input\}\}\n?/g, (_, inner: string) => (hasInput ? inner : ''));
  // One pass, so text inside a sample that looks like a placeholder is never substituted.
  return sectioned.replace(/\{\{(instruction|input)\}\}/g, (_, k: 'instruction' | 'input') => s[k]).trimEnd();
}
