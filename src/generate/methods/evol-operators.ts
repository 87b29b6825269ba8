import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../errors.js';
import { promptsDir } from '../../paths.js';
import type { Lang, Sample } from '../../data/sample.js';

/**
 * Evol-Instruct's operators (WizardLM): five rewrite a task in depth, one writes a new task in breadth. Each one's
 * prompt is prompts/evol-NAME.LANG.txt, with one placeholder, {{instruction}}.
 */
export const depthOperators = ['constraints', 'deepen', 'concretize', 'reasoning', 'complicate-input'] as const;
export const breadthOperators = ['breadth'] as const;
export const evolOperators = [...depthOperators, ...breadthOperators] as const;
export type EvolOperator = (typeof evolOperators)[number];

/** `--operators depth,breadth` or individual names, in any mix; repeated names count once. */
export function parseOperators(spec: string): EvolOperator[] {
  const out = new Set<EvolOperator>();
  for (const raw of spec.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (raw === 'depth') depthOperators.forEach((o) => out.add(o));
    else if (raw === 'breadth' || (evolOperators as readonly string[]).includes(raw)) out.add(raw as EvolOperator);
    else throw new ConfigError([`--operators: unknown operator "${raw}"`], `use depth, breadth, or any of ${evolOperators.join(', ')}`);
  }
  if (out.size === 0) throw new ConfigError(['--operators: no operator given'], 'use depth, breadth, or any of ' + evolOperators.join(', '));
  return [...out];
}

export interface EvolTemplate {
  operator: EvolOperator;
  file: string;
  body: string;
}

export function loadEvolTemplates(operators: readonly EvolOperator[], lang: Lang, dir = promptsDir()): Map<EvolOperator, EvolTemplate> {
  const out = new Map<EvolOperator, EvolTemplate>();
  for (const operator of operators) {
    const file = join(dir, `evol-${operator}.${lang}.txt`);
    if (!existsSync(file)) throw new ConfigError([`evol: no template for operator "${operator}" (looked for ${file})`], 'reinstall alpaca-forge, or choose other --operators');
    const body = readFileSync(file, 'utf8');
    if (!body.includes('{{instruction}}')) throw new ConfigError([`${file}: the template has no {{instruction}} placeholder`], 'add {{instruction}} where the task to rewrite goes');
    out.set(operator, { operator, file, body });
  }
  return out;
}

/** The task as the model reads it: the instruction, then its input after a line "Input:" (as evolved tasks are read back). */
export function taskText(s: Pick<Sample, 'instruction' | 'input'>): string {
  return s.input.trim() === '' ? s.instruction.trim() : `${s.instruction.trim()}\nInput:\n${s.input.trim()}`;
}

export function renderEvolPrompt(t: EvolTemplate, parent: Pick<Sample, 'instruction' | 'input'>): string {
  return t.body.replace('{{instruction}}', taskText(parent));
}

/**
 * The operator for one evolution. WizardLM picks uniformly among the chosen operators; breadth is kept rarer
 * (one draw in six when depth operators are also chosen) because a new task carries no growth in complexity.
 */
export function pickOperator(operators: readonly EvolOperator[], random: () => number): EvolOperator {
  const depth = operators.filter((o) => o !== 'breadth');
  if (depth.length === 0) return operators[0]!;
  if (operators.includes('breadth') && random() < 1 / 6) return 'breadth';
  return depth[Math.floor(random() * depth.length)]!;
}

/**
 * The prompt of the model's equality check (elimination's "no new information", as WizardLM decides it):
 * prompts/evol-equal.LANG.txt with {{first}} (the parent) and {{second}} (the evolution).
 */
export function loadEvolEqualTemplate(lang: Lang, dir = promptsDir()): string {
  const file = join(dir, `evol-equal.${lang}.txt`);
  if (!existsSync(file)) throw new ConfigError([`evol: no equality-check template (looked for ${file})`], 'reinstall alpaca-forge, or set generation.evol.sameAsParentCheck: rouge-l');
  const body = readFileSync(file, 'utf8');
  if (!body.includes('{{first}}') || !body.includes('{{second}}')) throw new ConfigError([`${file}: the template needs both {{first}} and {{second}}`], 'put the parent task at {{first}} and the evolved one at {{second}}');
  return body;
}

export function renderEqualPrompt(body: string, parent: Pick<Sample, 'instruction' | 'input'>, evolved: Pick<Sample, 'instruction' | 'input'>): string {
  return body.replace('{{first}}', taskText(parent)).replace('{{second}}', taskText(evolved));
}
