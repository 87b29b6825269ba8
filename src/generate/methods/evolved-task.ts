import type { Sample } from '../../data/sample.js';

export type EvolvedTask = { ok: true; task: Pick<Sample, 'instruction' | 'input'> } | { ok: false; error: string };

/**
 * Labels a model puts in front of the rewritten task although it was asked not to; the text after them is the task.
 * "Rewritten Prompt" is not one: that is a prompt's marker echoed, which elimination drops (evol:copied-template).
 */
const LEAD_LABELS = /^\s*(?:\*\*)?(?:#?\s*)?(?:new version of the task|new version|new task|rewritten (?:task|instruction)|revised task|task|新任务|改写后的任务|新版本|任务)(?:\*\*)?\s*[:：#]\s*(?:\*\*)?/i;

/**
 * Reads the evolved task out of the model's answer: code fences and a leading label are taken off, and a line that
 * says only "Input:" splits off the task's material (as the complicate-input template asks).
 */
export function parseEvolvedTask(answer: string, finishReason: string | null): EvolvedTask {
  if (finishReason === 'length') return { ok: false, error: 'the answer was cut off at max_tokens' };
  let text = answer.trim();
  const fence = /^```[a-z]*\n([\s\S]*?)\n?```$/i.exec(text);
  if (fence) text = fence[1]!.trim();
  text = text.replace(LEAD_LABELS, '').trim();
  // A task quoted whole is the task.
  const quoted = /^["“「](.*)["”」]$/s.exec(text);
  if (quoted && !/["“”「」]/.test(quoted[1]!)) text = quoted[1]!.trim();
  const split = /\n\s*(?:Input|输入)\s*[:：]\s*\n/i.exec(text);
  const instruction = (split ? text.slice(0, split.index) : text).trim();
  const input = split ? text.slice(split.index + split[0].length).trim() : '';
  if (instruction === '') return { ok: false, error: 'no task in the answer' };
  return { ok: true, task: { instruction, input } };
}
