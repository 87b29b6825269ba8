import { rougeTokens } from '../../curate/rouge-tokenize.js';
import { lcsTable, rougeLF1 } from '../../curate/bit-lcs.js';
import type { Sample } from '../../data/sample.js';
import { taskText } from './evol-operators.js';

/**
 * WizardLM's elimination step (the paper, §3.3; its public script leaves it out): an evolution is dropped when it
 * adds no information to its parent, when its response is a refusal or too short, or when it copied the prompt's
 * own words. Each reason is recorded as a drop reason, as curation's are.
 */
export type EliminationReason = 'evol:no-new-information' | 'evol:refusal' | 'evol:short-response' | 'evol:copied-template' | 'evol:parse';

export interface Elimination {
  reason: EliminationReason;
  detail: string;
}

export interface EliminationSettings {
  /** ROUGE-L F1 between the parent and the evolved task at or above which nothing new was added. Defaults to 0.9. */
  sameAsParentRougeL: number;
  /** A response with fewer letters or digits than this is too short. Defaults to 10. */
  minResponseChars: number;
  /** Phrases that mark a refusal (the curation rules' list). */
  refusalPhrases: readonly string[];
}

export const defaultEliminationSettings: EliminationSettings = {
  sameAsParentRougeL: 0.9,
  minResponseChars: 10,
  refusalPhrases: ['as an ai', 'i cannot', "i can't", 'i am unable', "i'm unable", 'i am not able', "i'm sorry, but", '作为一个ai', '作为一个人工智能', '我无法', '我不能'],
};

/**
 * Marker words of our own templates and of the prompts evolutions are commonly written with: an evolved task that
 * contains one echoed the prompt instead of writing a task.
 */
const TEMPLATE_MARKERS = ['[original task]', '[example task]', '[end]', '【原任务】', '【示例任务】', '【结束】', '#given prompt#', '#rewritten prompt#', '#created prompt#', 'rewritten prompt', 'given prompt'];

export function rougeL(a: string, b: string): number {
  const ta = rougeTokens(a);
  const tb = rougeTokens(b);
  return rougeLF1(lcsTable(ta, tb), ta.length, tb.length);
}

/** Any sentence of 30 characters or more from the template's own text, found in the evolved task. */
function copiedTemplateSentence(evolved: string, template: string): string | null {
  const low = evolved.toLowerCase();
  for (const m of TEMPLATE_MARKERS) if (low.includes(m)) return m;
  for (const sentence of template.replace('{{instruction}}', '').split(/(?<=[.!?。！？])\s*|\n+/)) {
    const s = sentence.trim();
    if (s.length >= 30 && evolved.includes(s)) return s.slice(0, 60);
  }
  return null;
}

const letters = (s: string) => s.match(/[\p{L}\p{N}]/gu)?.length ?? 0;

/** Checks of the evolved task alone, before its response is asked for (a dropped evolution costs no response). */
export function eliminateTask(parent: Pick<Sample, 'instruction' | 'input'>, evolved: Pick<Sample, 'instruction' | 'input'>, template: string, s: EliminationSettings, breadth: boolean): Elimination | null {
  const copied = copiedTemplateSentence(taskText(evolved), template);
  if (copied) return { reason: 'evol:copied-template', detail: `the task repeats the prompt's words "${copied}"` };
  // A breadth evolution writes a different task on purpose; "no new information" is a depth check.
  if (!breadth) {
    const sim = rougeL(taskText(parent), taskText(evolved));
    if (sim >= s.sameAsParentRougeL) return { reason: 'evol:no-new-information', detail: `ROUGE-L ${sim.toFixed(2)} to its parent (>= ${s.sameAsParentRougeL})` };
  }
  return null;
}

/** Checks of the response to an evolved task. */
export function eliminateResponse(response: string, s: EliminationSettings): Elimination | null {
  const low = response.toLowerCase();
  const refusal = s.refusalPhrases.find((p) => low.includes(p.toLowerCase()));
  if (refusal) return { reason: 'evol:refusal', detail: `the response contains "${refusal}"` };
  const n = letters(response);
  if (n < s.minResponseChars) return { reason: 'evol:short-response', detail: `the response has ${n} letters/digits, fewer than ${s.minResponseChars}` };
  return null;
}

/**
 * The model's answer to the equality check: true when it calls the two tasks equal. An answer that says neither
 * keeps the evolution (an unclear check is no evidence against it).
 */
export function calledEqual(answer: string): boolean {
  const a = answer.trim().replace(/^[*"'「“\s]+/, '').toLowerCase();
  if (/^(not equal|not the same|different|不相同|不同|不一样)/.test(a)) return false;
  return /^(equal|the same|same|相同|一样)/.test(a);
}
