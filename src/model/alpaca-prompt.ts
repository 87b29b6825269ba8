import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../errors.js';

/**
 * The Stanford Alpaca prompt (stanford_alpaca train.py PROMPT_DICT, alpaca-lora templates/alpaca.json), kept as
 * files in prompts/ so there is one copy of it. Both variants end in "### Response:\n"; the response follows.
 */
export interface AlpacaFields {
  instruction: string;
  input: string;
}

let templates: { withInput: string; noInput: string } | null = null;

/** prompts/ of the package, found from this file whether it runs from src/ (tsx) or dist/src/ (built). */
function promptsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'prompts', 'alpaca_input.txt'))) return join(dir, 'prompts');
    dir = dirname(dir);
  }
  throw new ModelError('prompts/alpaca_input.txt not found next to the package', 'reinstall alpaca-forge; the prompts/ folder is part of it');
}

function loadTemplates(): { withInput: string; noInput: string } {
  if (!templates) {
    const dir = promptsDir();
    templates = {
      withInput: readFileSync(join(dir, 'alpaca_input.txt'), 'utf8'),
      noInput: readFileSync(join(dir, 'alpaca_no_input.txt'), 'utf8'),
    };
  }
  return templates;
}

export function formatAlpacaPrompt(s: AlpacaFields): string {
  const t = loadTemplates();
  const template = s.input.trim() === '' ? t.noInput : t.withInput;
  // One pass, so text that itself contains "{input}" is never substituted twice.
  return template.replace(/\{(instruction|input)\}/g, (_, key: 'instruction' | 'input') => s[key]);
}
