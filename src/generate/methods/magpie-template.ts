import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../../errors.js';
import type { Lang } from '../../data/sample.js';

/**
 * A chat template's pieces as Magpie (Xu et al., 2024) uses them: the pre-query is what the template puts before a
 * user's words, so an aligned model sent only that writes a user instruction; the post-query (end of turn) is
 * where its instruction ends. `systemPreQuery` is the pre-query with a system turn in front ({{system}} marks the
 * system prompt), for steering the language (`--lang zh`).
 */
export const magpieTemplateSchema = z
  .object({
    preQuery: z.string().min(1),
    postQuery: z.string().min(1),
    systemPreQuery: z.string().includes('{{system}}').optional(),
    /** Further strings after which the instruction has certainly ended (a next turn's header). */
    stop: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type MagpieTemplate = z.output<typeof magpieTemplateSchema> & { name: string };

const LLAMA3_USER = '<|start_header_id|>user<|end_header_id|>\n\n';
const builtIn: Record<string, z.input<typeof magpieTemplateSchema>> = {
  llama3: {
    preQuery: `<|begin_of_text|>${LLAMA3_USER}`,
    postQuery: '<|eot_id|>',
    systemPreQuery: `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{{system}}<|eot_id|>${LLAMA3_USER}`,
    stop: ['<|start_header_id|>', '<|end_of_text|>'],
  },
  // Qwen2's chat template always opens with a system turn (its default prompt when none is given).
  qwen2: {
    preQuery: '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n',
    postQuery: '<|im_end|>',
    systemPreQuery: '<|im_start|>system\n{{system}}<|im_end|>\n<|im_start|>user\n',
    stop: ['<|im_start|>', '<|endoftext|>'],
  },
  chatml: {
    preQuery: '<|im_start|>user\n',
    postQuery: '<|im_end|>',
    systemPreQuery: '<|im_start|>system\n{{system}}<|im_end|>\n<|im_start|>user\n',
    stop: ['<|im_start|>'],
  },
};
export const builtInMagpieTemplates = Object.keys(builtIn);

/**
 * The system prompt that steers an English-first model to write its instructions in Chinese: Magpie documents
 * this for its Chinese sets, since the bare pre-query leaves the language to the model's habits.
 */
export const CHINESE_SYSTEM_PROMPT = '你是一个乐于助人的AI助手。和你对话的用户只说简体中文，他们会用简体中文向你提出各种问题和请求。';

/** `llama3`, `qwen2`, `chatml`, or the path of a JSON file {preQuery, postQuery, systemPreQuery?, stop?}. */
export function loadMagpieTemplate(name: string): MagpieTemplate {
  const known = builtIn[name];
  if (known) return { name, ...magpieTemplateSchema.parse(known) };
  if (!existsSync(name)) throw new ConfigError([`--template: no Magpie template "${name}"`], `use ${builtInMagpieTemplates.join(', ')}, or the path of a JSON file {"preQuery": "...", "postQuery": "..."}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(name, 'utf8'));
  } catch (e) {
    throw new ConfigError([`${name}: not JSON (${(e as Error).message})`], 'write the template as {"preQuery": "...", "postQuery": "..."}');
  }
  const r = magpieTemplateSchema.safeParse(raw);
  if (!r.success) throw new ConfigError([`${name}: ${r.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ')}`], 'a Magpie template is {"preQuery": "...", "postQuery": "...", "systemPreQuery"?: "...{{system}}...", "stop"?: [...]}');
  return { name, ...r.data };
}

/** Exactly what is sent to /v1/completions for one instruction. */
export function magpiePrefix(t: MagpieTemplate, lang: Lang): string {
  if (lang === 'zh') {
    if (!t.systemPreQuery) throw new ConfigError([`Magpie template "${t.name}" has no systemPreQuery, which --lang zh needs for its system prompt`], 'add "systemPreQuery": "...{{system}}..." to the template file');
    return t.systemPreQuery.replace('{{system}}', CHINESE_SYSTEM_PROMPT);
  }
  return t.preQuery;
}

/** Strings the server may stop at (sent as `stop`); the cut below is applied whatever the server did. */
export function magpieStops(t: MagpieTemplate): string[] {
  return [t.postQuery, ...t.stop];
}

/** The instruction: the completion up to the template's end of turn (or a next turn's header), trimmed. */
export function cutAtEndOfTurn(text: string, t: MagpieTemplate): string {
  let end = text.length;
  for (const s of magpieStops(t)) {
    const at = text.indexOf(s);
    if (at >= 0 && at < end) end = at;
  }
  return text.slice(0, end).trim();
}
