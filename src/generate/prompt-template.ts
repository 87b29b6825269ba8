import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { promptsDir } from '../paths.js';
import type { Lang, Sample } from '../data/sample.js';

export const templateFormatSchema = z.enum(['json', 'alpaca']);
export type TemplateFormat = z.infer<typeof templateFormatSchema>;

export interface PromptTemplate {
  /** The name as given ("json", "alpaca", or a path). */
  name: string;
  /** File it was read from. */
  file: string;
  /** How the model is asked to answer, hence how the answer is parsed. */
  format: TemplateFormat;
  body: string;
}

const PLACEHOLDERS = new Set(['num_tasks', 'num_examples', 'examples', 'next_index']);

/** "json"/"alpaca" pick the bundled prompts/generate-NAME.LANG.txt; anything else is a path to a template file. */
export function loadPromptTemplate(name: string, lang: Lang): PromptTemplate {
  const bundled = /^[a-z0-9_-]+$/i.test(name) ? join(promptsDir(), `generate-${name}.${lang}.txt`) : null;
  const file = bundled && existsSync(bundled) ? bundled : name;
  if (!existsSync(file)) {
    throw new ConfigError([`generation.template: no template "${name}" (looked for ${bundled ?? file})`], 'use "json", "alpaca", or the path of a template file');
  }
  const text = readFileSync(file, 'utf8');
  const m = /^---\n([\s\S]*?)\n---\n/.exec(text);
  // stanford_alpaca's own prompt.txt: no front matter and no placeholders; its script appends the numbered examples
  // and the next number's "Instruction:" to the text, and so do we.
  if (!m && !/\{\{\w+\}\}/.test(text)) return { name, file, format: 'alpaca', body: `${text.trimEnd()}\n{{examples}}\n###\n{{next_index}}. Instruction:` };
  const fm = m ? /^format:\s*(\S+)\s*$/m.exec(m[1]!) : null;
  const format = templateFormatSchema.safeParse(fm?.[1]);
  if (!format.success) {
    throw new ConfigError([`${file}:1: template front matter must say "format: json" or "format: alpaca" between --- lines`]);
  }
  const body = text.slice(m![0].length);
  for (const [, ph] of body.matchAll(/\{\{(\w+)\}\}/g)) {
    if (!PLACEHOLDERS.has(ph!)) throw new ConfigError([`${file}: unknown placeholder {{${ph}}}`], `placeholders are ${[...PLACEHOLDERS].map((p) => `{{${p}}}`).join(', ')}`);
  }
  return { name, file, format: format.data, body };
}

export type ExampleTask = Sample;

/** Fills the template with the sampled example tasks, formatted the way the model is asked to answer. */
export function renderPrompt(t: PromptTemplate, examples: ExampleTask[], numTasks: number): string {
  const rendered =
    t.format === 'json'
      ? examples.map((e) => JSON.stringify({ instruction: e.instruction, input: e.input, output: e.output }, null, 1).replace(/\n\s*/g, ' ')).join('\n')
      : examples
          .map((e, i) => `###\n${i + 1}. Instruction: ${e.instruction}\n${i + 1}. Input:\n${e.input === '' ? '<noinput>' : e.input}\n${i + 1}. Output:\n${e.output}`)
          .join('\n');
  const values: Record<string, string> = {
    // Alpaca's numbered list counts the examples as its first items and lets the model continue from there.
    num_tasks: String(t.format === 'alpaca' ? numTasks + examples.length : numTasks),
    num_examples: String(examples.length),
    examples: rendered,
    next_index: String(examples.length + 1),
  };
  return t.body.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? '');
}
