import { join } from 'node:path';
import type { z } from 'zod';
import { generationConfigSchema } from '../config/generation.js';
import type { ForgeConfig } from '../config/schema.js';
import { langSchema } from '../data/sample.js';
import type { RunInfo } from '../review/run-access.js';
import { trainConfigSchema, type TrainConfigInput } from '../config/train.js';
import type { FormField } from './components/form.js';
import { curationConfigSchema, judgeConfigSchema, type JudgeConfig } from '../config/curation.js';
import { respondDefaults, respondSelectionSchema, respondSettingsSchema, type RespondSettings } from '../config/respond.js';
import { TRAINING_METHODS, type TrainingMethodName } from '../train/method.js';
import { dpoLossSchema, type DpoLoss } from '../train/recipes/recipe.js';
import { parseOperators } from '../generate/methods/evol-operators.js';
import { ConfigError } from '../errors.js';

/*
 * The new-generation and train forms: their fields, and their values turned into config sections. A form's values
 * are checked with the same zod schemas as forge.yaml, merged over forge.yaml's section exactly as they will be
 * used, so a form cannot start what the config would refuse (and says which setting, by its forge.yaml name).
 */

/**
 * A form's text as a number for the schema. Empty is not "the default": the form shows every value, so a cleared
 * field is a mistake to point at, not a silent 52000.
 */
function numberValue(text: string | undefined): number {
  return text === undefined || text.trim() === '' ? Number.NaN : Number(text);
}

function firstIssue(error: z.ZodError, section: string): string {
  const issue = error.issues[0];
  if (!issue) return `${section}: invalid`;
  const path = issue.path.length ? `${section}.${issue.path.join('.')}` : section;
  return `${path}: ${issue.code === 'invalid_type' && issue.expected === 'number' ? 'a number is needed' : issue.message}`;
}

// ---- new generation ----
export function newRunFields(config: ForgeConfig, runsDir: string, exists: (runDir: string) => boolean): FormField[] {
  const g = config.generation;
  let n = 1;
  while (exists(join(runsDir, `run-${n}`))) n++;
  return [
    { name: 'name', label: 'run name', value: `run-${n}`, hint: `folder under ${runsDir}` },
    { name: 'model', label: 'model', value: g.model },
    { name: 'baseUrl', label: 'base URL', value: g.baseUrl ?? '', hint: 'empty: $OPENAI_BASE_URL or api.openai.com' },
    { name: 'target', label: 'target (kept)', value: String(g.target) },
    { name: 'concurrency', label: 'concurrency', value: String(g.concurrency) },
    { name: 'lang', label: 'language', value: g.lang, choices: langSchema.options },
    { name: 'method', label: 'method', value: g.method, choices: generationConfigSchema.shape.method.unwrap().options },
    { name: 'template', label: 'template', value: g.method === 'magpie' ? g.magpie.template : g.template, hint: 'json, alpaca or a file; magpie: llama3, qwen2, chatml or a file' },
    { name: 'from', label: 'evol input', value: g.evol.from ?? '', hint: 'evol: Alpaca JSON/JSONL to evolve' },
    { name: 'rounds', label: 'evol rounds', value: String(g.evol.rounds), hint: 'evol: each round evolves what the round before kept' },
    { name: 'operators', label: 'evol operators', value: g.evol.operators, hint: 'evol: depth, breadth, or constraints,deepen,concretize,reasoning,complicate-input,breadth' },
    { name: 'sameAsParent', label: 'same as parent', value: g.evol.sameAsParentCheck, choices: ['rouge-l', 'model'], hint: 'evol: model also asks the model whether an evolution adds nothing (one request more each)' },
    { name: 'responseModel', label: 'response model', value: g.magpie.responseModel ?? '', hint: 'magpie: the chat model that answers the instructions; empty: the model above' },
  ];
}

function generationInput(config: ForgeConfig, v: Record<string, string>): Record<string, unknown> {
  return {
    ...config.generation,
    model: v['model'],
    baseUrl: v['baseUrl'] ? v['baseUrl'] : null,
    target: numberValue(v['target']),
    concurrency: numberValue(v['concurrency']),
    lang: v['lang'],
    method: v['method'] ?? config.generation.method,
    // --template names the method's template: a generation prompt, or Magpie's chat template.
    ...(v['method'] === 'magpie' ? { magpie: { ...config.generation.magpie, template: v['template'], responseModel: v['responseModel'] || null } } : { template: v['template'] }),
    evol: {
      ...config.generation.evol,
      from: v['from'] ? v['from'] : null,
      rounds: v['rounds'] === undefined ? config.generation.evol.rounds : numberValue(v['rounds']),
      operators: v['operators'] ?? config.generation.evol.operators,
      sameAsParentCheck: v['sameAsParent'] ?? config.generation.evol.sameAsParentCheck,
    },
  };
}

export function validateNewRun(config: ForgeConfig, v: Record<string, string>, runsDir: string, exists: (runDir: string) => boolean): string | null {
  const name = v['name'] ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return 'run name: letters, digits, ".", "_" and "-" only';
  if (exists(join(runsDir, name))) return `run name: ${name} exists (R on the home screen resumes it)`;
  const r = generationConfigSchema.safeParse(generationInput(config, v));
  if (!r.success) return firstIssue(r.error, 'generation');
  if (r.data.method === 'evol') {
    try {
      parseOperators(r.data.evol.operators);
    } catch (e) {
      return e instanceof ConfigError ? `evol operators: ${e.message.replace(/^--operators: /, '')}` : String(e);
    }
  }
  return null;
}

/** The config a new run starts with; call after validateNewRun accepted the values. */
export function newRunConfig(config: ForgeConfig, v: Record<string, string>): ForgeConfig {
  return { ...config, generation: generationConfigSchema.parse(generationInput(config, v)) };
}

// ---- training ----
export const backendChoices = trainConfigSchema.shape.backend.unwrap().options;
export const adapterChoices = trainConfigSchema.shape.adapter.unwrap().options;
export const methodChoices = TRAINING_METHODS;

/** What `train --method` the form starts, with the settings that are the method's own (not forge.yaml's). */
export interface TrainMethodChoice {
  name: TrainingMethodName;
  /** --method dpo: β and the loss */
  dpo?: { beta: number; loss: DpoLoss };
}

export function trainFields(config: ForgeConfig, run: RunInfo): FormField[] {
  const t: Partial<TrainConfigInput> = config.train;
  return [
    { name: 'model', label: 'base model dir', value: t.model ?? '', hint: 'Hugging Face layout: config.json, *.safetensors, tokenizer' },
    { name: 'out', label: 'output dir', value: t.out ?? join(run.dir, 'lora') },
    { name: 'epochs', label: 'epochs', value: String(t.epochs ?? 3) },
    { name: 'maxSteps', label: 'max steps', value: String(t.maxSteps ?? 0), hint: '0 = all epochs' },
    // Held-out samples for eval loss, at most a tenth of the run: the default (2000) would swallow a small run whole.
    { name: 'valSetSize', label: 'eval samples', value: String(Math.min(t.valSetSize ?? 2000, Math.floor(run.kept / 10))), hint: '0 = no evaluation' },
    { name: 'backend', label: 'backend', value: t.backend ?? 'auto', choices: backendChoices },
    // SFT trains on the run's samples; DPO and RM on its rankings (respond, then curate --rank or review --rank).
    { name: 'method', label: 'method', value: 'sft', choices: methodChoices, hint: "sft, ppo: the samples; dpo, rm: the run's ranked responses" },
    { name: 'beta', label: 'DPO beta', value: '0.1', hint: 'dpo only: how far the policy may move from the reference' },
    { name: 'dpoLoss', label: 'DPO loss', value: 'sigmoid', choices: dpoLossSchema.options, hint: 'dpo only' },
    { name: 'rewardModel', label: 'reward model', value: t.rewardModel ?? '', hint: 'ppo: the directory train --method rm wrote' },
    { name: 'initAdapter', label: 'start adapter', value: t.initAdapter ?? '', hint: 'dpo, ppo: the SFT adapter to start from (and the reference); empty: none' },
    { name: 'adapter', label: 'adapter', value: t.adapter ?? 'lora', choices: adapterChoices, hint: 'PEFT type: LoRA, or virtual tokens (prompt tuning, P-tuning, prefix tuning)' },
    { name: 'numVirtualTokens', label: 'virtual tokens', value: String(t.numVirtualTokens ?? 20), hint: 'for the prompt-learning adapters' },
    { name: 'resume', label: 'resume', value: 'no', choices: ['no', 'yes'], hint: 'continue from the newest checkpoint in the output dir' },
  ];
}

/** forge.yaml's train section with the form's values over it; the run replaces any data file named there. */
export function trainConfigFrom(config: ForgeConfig, run: RunInfo, v: Record<string, string>): TrainConfigInput {
  const { data: _data, ...defaults } = config.train;
  return {
    ...defaults,
    run: run.dir,
    model: v['model'] ?? null,
    out: v['out'] ?? null,
    epochs: numberValue(v['epochs']),
    maxSteps: numberValue(v['maxSteps']),
    valSetSize: numberValue(v['valSetSize']),
    backend: v['backend'] as TrainConfigInput['backend'],
    ...(v['adapter'] !== undefined ? { adapter: v['adapter'] as TrainConfigInput['adapter'] } : {}),
    ...(v['numVirtualTokens'] !== undefined ? { numVirtualTokens: numberValue(v['numVirtualTokens']) } : {}),
    ...(v['rewardModel'] !== undefined ? { rewardModel: v['rewardModel'] ? v['rewardModel'] : null } : {}),
    ...(v['initAdapter'] !== undefined ? { initAdapter: v['initAdapter'] ? v['initAdapter'] : null } : {}),
  };
}

/** The method the form starts (sft when the form has no method field). */
export function trainMethodFrom(v: Record<string, string>): TrainMethodChoice {
  const name = methodChoices.find((m) => m === v['method']) ?? 'sft';
  if (name !== 'dpo') return { name };
  return { name, dpo: { beta: numberValue(v['beta'] ?? '0.1'), loss: dpoLossSchema.parse(v['dpoLoss'] ?? 'sigmoid') } };
}

export function validateTrain(config: ForgeConfig, run: RunInfo, v: Record<string, string>): string | null {
  // The config allows both empty (a flag may give them); a training started here has nothing else to take them from.
  if (!v['model']) return 'base model dir: required';
  if (!v['out']) return 'output dir: required';
  if (v['method'] !== undefined && !methodChoices.some((m) => m === v['method'])) return `method: one of ${methodChoices.join(', ')}`;
  if (v['method'] === 'dpo' && !(numberValue(v['beta']) > 0)) return 'DPO beta: a positive number (the DPO paper uses 0.1)';
  if (v['method'] === 'ppo' && v['rewardModel'] !== undefined && !v['rewardModel']) return 'reward model: required for ppo (train --method rm writes one)';
  if (v['method'] !== undefined && v['method'] !== 'sft' && v['adapter'] !== undefined && v['adapter'] !== 'lora') return `adapter: ${v['method']} trains a LoRA adapter (prompt-learning adapters are for sft)`;
  const r = trainConfigSchema.safeParse(trainConfigFrom(config, run, v));
  return r.success ? null : firstIssue(r.error, 'train');
}

// ---- respond and judge ----
const respondStatusChoices = respondSelectionSchema.options;

/** respond's settings as `alpaca-forge respond` defaults them (K is asked for: there is no default). */
export function respondFields(config: ForgeConfig): FormField[] {
  const g = config.generation;
  return [
    { name: 'responses', label: 'responses (K)', value: '4', hint: "per sample, its own output included (2–9)" },
    { name: 'models', label: 'models', value: g.model, hint: 'comma-separated; response i by model (i − 1) mod n' },
    { name: 'concurrency', label: 'concurrency', value: String(g.concurrency) },
    { name: 'temperature', label: 'temperature', value: String(respondDefaults.temperature) },
    { name: 'maxTokens', label: 'max tokens', value: String(respondDefaults.maxTokens) },
    { name: 'status', label: 'samples', value: respondDefaults.status, choices: respondStatusChoices, hint: 'kept: what training uses; accepted: accepted in review only' },
  ];
}

/** What to fix, by the form's field; the limits themselves are respondSettingsSchema's. */
const respondFieldProblems: Record<string, string> = {
  responses: 'responses (K): a whole number from 2 to 9',
  models: 'models: at least one model',
  concurrency: 'concurrency: a whole number from 1 to 1024',
  temperature: 'temperature: a number from 0 to 2',
  maxTokens: 'max tokens: a whole number of at least 1',
};

/** The respond settings of the form's values, or the first field that is wrong. */
export function respondSettingsFrom(config: ForgeConfig, v: Record<string, string>): { settings: RespondSettings } | { error: string } {
  const g = config.generation;
  const r = respondSettingsSchema.safeParse({
    responses: numberValue(v['responses']),
    models: (v['models'] ?? '').split(',').map((m) => m.trim()).filter(Boolean),
    concurrency: numberValue(v['concurrency']),
    temperature: numberValue(v['temperature']),
    maxTokens: numberValue(v['maxTokens']),
    status: respondStatusChoices.find((s) => s === v['status']),
    topP: g.topP,
    budgetUsd: g.budgetUsd,
  });
  if (r.success) return { settings: r.data };
  const field = String(r.error.issues[0]?.path[0] ?? '');
  return { error: respondFieldProblems[field] ?? firstIssue(r.error, 'respond') };
}

/** The judge's settings over forge.yaml's judge: section: what to do, the model, concurrency, budget, re-judging. */
export function judgeFields(config: ForgeConfig): FormField[] {
  const j = config.judge;
  return [
    { name: 'mode', label: 'job', value: 'judge', choices: ['judge', 'rank'], hint: 'judge: score the samples 0–5; rank: rate the candidate answers (after respond)' },
    { name: 'model', label: 'judge model', value: j.model ?? config.generation.model },
    { name: 'concurrency', label: 'concurrency', value: String(j.concurrency) },
    { name: 'budgetUsd', label: 'budget (USD)', value: j.budgetUsd === null ? '' : String(j.budgetUsd), hint: 'empty: no limit' },
    { name: 'rejudge', label: 'rejudge', value: j.rejudge ? 'yes' : 'no', choices: ['no', 'yes'], hint: 'rate again what has a rating' },
  ];
}

function judgeInput(config: ForgeConfig, v: Record<string, string>): Record<string, unknown> {
  return {
    ...config.judge,
    model: v['model'] ? v['model'] : null,
    concurrency: numberValue(v['concurrency']),
    budgetUsd: v['budgetUsd'] ? numberValue(v['budgetUsd']) : null,
    rejudge: v['rejudge'] === 'yes',
  };
}

export function validateJudge(config: ForgeConfig, v: Record<string, string>): string | null {
  const r = judgeConfigSchema.safeParse(judgeInput(config, v));
  return r.success ? null : firstIssue(r.error, 'judge');
}

/** The judge job the form starts; call after validateJudge accepted the values. */
export function judgeJobFrom(config: ForgeConfig, v: Record<string, string>): { mode: 'judge' | 'rank'; judge: JudgeConfig } {
  return { mode: v['mode'] === 'rank' ? 'rank' : 'judge', judge: judgeConfigSchema.parse(judgeInput(config, v)) };
}

// ---- curate ----
const dedupChoices = ['rouge', 'minhash', 'semantic', 'rouge,minhash', 'rouge,semantic', 'minhash,semantic', 'rouge,minhash,semantic', 'none'] as const;

/**
 * Re-curation of a run from home's `c`: the near-duplicate methods, the keep rule, the embeddings model for
 * semantic dedup and the benchmark files to decontaminate against, over forge.yaml's curation section. Curation
 * itself runs as `alpaca-forge curate` with these as its flags (curateArgsFrom), so the form can ask nothing that
 * the command would not.
 */
export function curateFields(config: ForgeConfig): FormField[] {
  const d = config.curation.dedup;
  const methods = [d.rouge && 'rouge', d.minhash && 'minhash', d.semantic && 'semantic'].filter(Boolean).join(',') || 'none';
  return [
    { name: 'dedup', label: 'dedup', value: methods, choices: dedupChoices, hint: 'rouge: ROUGE-L as Alpaca; minhash: fuzzy, for large sets; semantic: paraphrases, by embeddings' },
    // IFD scores come with a data file (--in), not a run, so a run's form offers the other three.
    { name: 'keep', label: 'keep', value: d.keep === 'ifd' ? 'first' : d.keep, choices: ['first', 'judge', 'longest'], hint: 'which copy of a duplicate survives' },
    { name: 'embeddingModel', label: 'embedding model', value: d.embeddingModel, hint: 'with semantic: the /v1/embeddings model at generation.baseUrl (or its endpoints)' },
    { name: 'semanticThreshold', label: 'semantic threshold', value: String(d.semanticThreshold), hint: 'with semantic: the cosine at which an item is a paraphrase' },
    { name: 'decontaminate', label: 'benchmarks', value: '', hint: 'test sets to remove (JSON, JSONL, CSV or Parquet), comma-separated; empty: none' },
    { name: 'ngram', label: 'n-gram', value: '13', hint: 'with benchmarks: shared n-gram width (words; characters for Chinese)' },
  ];
}

export function validateCurate(config: ForgeConfig, v: Record<string, string>): string | null {
  const r = curationConfigSchema.safeParse({
    ...config.curation,
    dedup: { ...config.curation.dedup, embeddingModel: v['embeddingModel']?.trim(), semanticThreshold: numberValue(v['semanticThreshold']) },
  });
  if (!r.success) return firstIssue(r.error, 'curation');
  const n = numberValue(v['ngram']);
  if (!Number.isInteger(n) || n < 1 || n > 64) return 'n-gram: a whole number from 1 to 64 is needed';
  return null;
}

/** The form's values as `alpaca-forge curate` flags (after --run DIR); call after validateCurate accepted them. */
export function curateArgsFrom(v: Record<string, string>): string[] {
  const args = ['--dedup', v['dedup'] ?? 'rouge', '--keep', v['keep'] ?? 'first'];
  if ((v['dedup'] ?? '').includes('semantic')) args.push('--embedding-model', v['embeddingModel']!.trim(), '--semantic-threshold', v['semanticThreshold']!.trim());
  const files = (v['decontaminate'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (files.length) args.push('--decontaminate', files.join(','), '--ngram', v['ngram']!.trim());
  return args;
}
