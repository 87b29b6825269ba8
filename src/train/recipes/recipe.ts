import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { stringify } from 'yaml';
import { DataError, UsageError } from '../../errors.js';
import type { TrainConfig } from '../../config/train.js';
import { resolveValSetSize } from '../hold-out.js';

/**
 * Hand-offs to distributed trainers: the same LoRA run as an axolotl or LLaMA-Factory config, plus the command that
 * launches it on one or many GPUs. Field names follow axolotl's config reference and docs/rlhf.qmd (user_defined
 * DPO datasets, `rl_beta`) and LLaMA-Factory's examples/train_lora/*.yaml and data/README (dataset_info.json with
 * `ranking: true` for preference data), as published in late 2026.
 */
export const recipeTargetSchema = z.enum(['axolotl', 'llamafactory']);
export type RecipeTarget = z.output<typeof recipeTargetSchema>;

export const trainMethodSchema = z.enum(['sft', 'dpo']);
export type TrainMethod = z.output<typeof trainMethodSchema>;

export const dpoLossSchema = z.enum(['sigmoid', 'ipo']);
export type DpoLoss = z.output<typeof dpoLossSchema>;

/** The record shapes a recipe's data file may have; which one a trainer reads decides the export format to use. */
export type RecipeDataShape = 'alpaca' | 'dpo' | 'dpo-alpaca';

export interface RecipeInput {
  target: RecipeTarget;
  method: TrainMethod;
  config: TrainConfig;
  /** Absolute path of the training data (Alpaca JSON/JSONL for SFT, preference pairs for DPO). */
  dataPath: string;
  /** The shape of the data file's records (see `dataShapeOf`). */
  dataShape: RecipeDataShape;
  /** Records in the data file: turns valSetSize (a count, as alpaca-lora has it) into the fraction both tools take. */
  records: number;
  /** Directory the recipe is written to. */
  outDir: string;
  /** GPUs on the machine the recipe will run on: the per-device batch is split so the global batch stays `batchSize`. */
  gpus: number;
  dpo: { beta: number; loss: DpoLoss };
  /**
   * LLaMA-Factory: the data file carries a `system` field per record (Alpaca's preamble, which differs for records
   * with an input) and the input folded into the instruction as `### Input:` (see `llamaFactoryRecord`), so its
   * alpaca template renders exactly our prompt.
   */
  systemColumn?: boolean;
}

/**
 * A record as LLaMA-Factory's `alpaca` template must see it to render Alpaca's prompt. The template writes
 * system + "### Instruction:\n" + instruction (+ "\n" + input) + "\n\n### Response:\n", with the no-input preamble
 * as its default system: so the preamble goes in `system`, and a record's input goes into its instruction under
 * Alpaca's own "### Input:" header.
 */
export function llamaFactoryRecord<T extends { instruction: string; input: string }>(r: T, preambles: { withInput: string; noInput: string }): T & { system: string } {
  const hasInput = r.input.trim() !== '';
  return { ...r, instruction: hasInput ? `${r.instruction}\n\n### Input:\n${r.input}` : r.instruction, input: '', system: hasInput ? preambles.withInput : preambles.noInput };
}

export interface Recipe {
  files: { name: string; content: string }[];
  /** Shell lines, in order: one GPU, several GPUs (torchrun/accelerate), DeepSpeed. */
  launch: string[];
}

/** Which export format a trainer reads for a method: what `export --format` should have written. */
export function expectedDataShape(target: RecipeTarget, method: TrainMethod): RecipeDataShape {
  if (method === 'sft') return 'alpaca';
  return target === 'axolotl' ? 'dpo' : 'dpo-alpaca';
}

/** The shape of one record, from its keys. */
export function dataShapeOf(record: Record<string, unknown>): RecipeDataShape | null {
  const has = (k: string) => typeof record[k] === 'string';
  if (has('chosen') && has('rejected')) {
    if (has('prompt')) return 'dpo';
    if (has('instruction')) return 'dpo-alpaca';
    return null;
  }
  if (has('instruction') && has('output')) return 'alpaca';
  return null;
}

export function buildRecipe(input: RecipeInput): Recipe {
  const want = expectedDataShape(input.target, input.method);
  if (input.dataShape !== want) {
    throw new DataError(
      `${input.dataPath}: records are ${input.dataShape === 'alpaca' ? 'Alpaca samples' : `"${input.dataShape}" pairs`}, but ${input.target} ${input.method.toUpperCase()} reads ${want === 'alpaca' ? 'Alpaca samples' : `"${want}" pairs`}`,
      `write the data with: alpaca-forge export --run DIR --format ${want} --out FILE`,
    );
  }
  const c = input.config;
  if (!Number.isInteger(c.loraAlpha)) {
    // axolotl's schema (lora_alpha: int) and LLaMA-Factory's (lora_alpha: int) both refuse a fraction.
    throw new UsageError(`--lora-alpha ${c.loraAlpha}: ${input.target} takes an integer lora_alpha`, `use a whole number (e.g. ${Math.round(c.loraAlpha) || 1}) for a recipe`);
  }
  const accumulation = gradientAccumulation(c.batchSize, c.microBatchSize, input.gpus);
    const valRecords = resolveValSetSize(c.valSetSize, input.records, input.dataPath).size;
  const valFraction = input.records > 0 && valRecords > 0 ? Math.min(0.5, round(valRecords / input.records, 4)) : 0;
  const model = modelRef(c.model);
  const outputDir = join(input.outDir, `${input.target}-out`);
  return input.target === 'axolotl'
    ? axolotl(input, { accumulation, valFraction, model, outputDir })
    : llamaFactory(input, { accumulation, valFraction, model, outputDir });
}

interface Derived {
  accumulation: number;
  valFraction: number;
  model: string;
  outputDir: string;
}

function axolotl(input: RecipeInput, d: Derived): Recipe {
  const c = input.config;
  const dataset =
    input.method === 'sft'
      ? { path: input.dataPath, ds_type: 'json', type: 'alpaca' }
      : {
          path: input.dataPath,
          ds_type: 'json',
          split: 'train',
          // Our dpo export already renders the Alpaca prompt, so the fields pass through unchanged.
          type: { field_prompt: 'prompt', field_chosen: 'chosen', field_rejected: 'rejected', prompt_format: '{prompt}', chosen_format: '{chosen}', rejected_format: '{rejected}' },
        };
  // DPO from an SFT adapter: axolotl's DPO reference is the policy with its adapter disabled, i.e. the bare base.
  // Ours is base + SFT adapter, so the recipe trains on the merged SFT model: its adapter-disabled reference is
  // then base + SFT, as here (the new LoRA starts at zero, so the policy starts there too).
  const mergeFirst = input.method === 'dpo' && c.initAdapter !== null;
  const merged = join(input.outDir, 'sft-merged');
  const config: Record<string, unknown> = {
    base_model: mergeFirst ? merged : d.model,
    // axolotl deprecated rl: ipo for rl: dpo with dpo_loss_type.
    ...(input.method === 'dpo' ? { rl: 'dpo', ...(input.dpo.loss === 'ipo' ? { dpo_loss_type: ['ipo'] } : {}), rl_beta: input.dpo.beta } : {}),
    datasets: [dataset],
    val_set_size: d.valFraction,
    output_dir: d.outputDir,
    sequence_len: c.cutoffLen,
    adapter: 'lora',
    ...(c.initAdapter && !mergeFirst ? { lora_model_dir: absolute(c.initAdapter) } : {}),
    lora_r: c.loraR,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    lora_target_modules: c.targetModules,
    ...(c.useRslora ? { peft_use_rslora: true } : {}),
    train_on_inputs: c.trainOnInputs,
    micro_batch_size: c.microBatchSize,
    gradient_accumulation_steps: d.accumulation,
    num_epochs: c.epochs,
    ...(c.maxSteps > 0 ? { max_steps: c.maxSteps } : {}),
    optimizer: 'adamw_torch',
    learning_rate: c.learningRate,
    lr_scheduler: schedulerName(c.lrSchedule),
    warmup_steps: c.warmupSteps,
    weight_decay: c.weightDecay,
    max_grad_norm: c.maxGradNorm,
    seed: c.seed,
    bf16: 'auto',
    ...(c.saveEvery > 0 ? { save_steps: c.saveEvery } : {}),
    ...(c.evalEvery > 0 && d.valFraction > 0 ? { eval_steps: c.evalEvery } : {}),
    save_total_limit: c.keepCheckpoints,
    logging_steps: 10,
  };
  const file = join(input.outDir, 'axolotl.yaml');
  const merge = mergeFirst ? `alpaca-forge merge --model ${d.model} --adapter ${absolute(c.initAdapter!)} --out ${merged} && ` : '';
  const note = mergeFirst ? `# DPO reference: base + the SFT adapter ${absolute(c.initAdapter!)}, as in alpaca-forge: train on the merged SFT model\n# (${merged}, written by the merge in the launch line), whose adapter-disabled reference is base + SFT.\n` : '';
  return {
    files: [{ name: 'axolotl.yaml', content: header(input) + note + stringify(config) }],
    launch: [
      `${merge}axolotl train ${file}`,
      `${merge}accelerate launch --num_processes ${input.gpus} -m axolotl.cli.train ${file}`,
      `# DeepSpeed: add "deepspeed: deepspeed_configs/zero2.json" to ${file} (axolotl fetch deepspeed_configs), then the line above`,
    ],
  };
}

function llamaFactory(input: RecipeInput, d: Derived): Recipe {
  const c = input.config;
  const datasetName = input.method === 'sft' ? 'alpaca_forge_sft' : 'alpaca_forge_dpo';
  const datasetInfo = {
    [datasetName]:
      input.method === 'sft'
        ? { file_name: input.dataPath, formatting: 'alpaca', columns: { prompt: 'instruction', query: 'input', response: 'output' } }
        : { file_name: input.dataPath, formatting: 'alpaca', ranking: true, columns: { prompt: 'instruction', query: 'input', chosen: 'chosen', rejected: 'rejected' } },
  };
  if (input.systemColumn) (datasetInfo[datasetName]!.columns as Record<string, string>)['system'] = 'system';
  // DPO from an SFT adapter: the policy continues that adapter, and the reference must be base + that adapter as
  // here; without ref_model LLaMA-Factory's reference is the policy with its adapter disabled (the bare base).
  const sftReference = input.method === 'dpo' && c.initAdapter ? { ref_model: d.model, ref_model_adapters: absolute(c.initAdapter) } : {};
  const config: Record<string, unknown> = {
    model_name_or_path: d.model,
    ...(c.initAdapter ? { adapter_name_or_path: absolute(c.initAdapter) } : {}),
    stage: input.method,
    do_train: true,
    finetuning_type: 'lora',
    lora_rank: c.loraR,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    lora_target: c.targetModules.join(','),
    ...(c.useRslora ? { use_rslora: true } : {}),
    ...(input.method === 'dpo' ? { pref_beta: input.dpo.beta, pref_loss: input.dpo.loss, ...sftReference } : {}),
    dataset: datasetName,
    dataset_dir: input.outDir,
    // With the per-record system and folded input (systemColumn), the alpaca template renders our prompt exactly.
    template: 'alpaca',
    cutoff_len: c.cutoffLen,
    // LLaMA-Factory refuses train_on_prompt for every stage but sft (DPO scores the responses only, as ours does).
    ...(input.method === 'sft' ? { train_on_prompt: c.trainOnInputs } : {}),
    output_dir: d.outputDir,
    logging_steps: 10,
    ...(c.saveEvery > 0 ? { save_steps: c.saveEvery } : {}),
    save_total_limit: c.keepCheckpoints,
    per_device_train_batch_size: c.microBatchSize,
    gradient_accumulation_steps: d.accumulation,
    learning_rate: c.learningRate,
    num_train_epochs: c.epochs,
    ...(c.maxSteps > 0 ? { max_steps: c.maxSteps } : {}),
    lr_scheduler_type: schedulerName(c.lrSchedule),
    warmup_steps: c.warmupSteps,
    weight_decay: c.weightDecay,
    max_grad_norm: c.maxGradNorm,
    seed: c.seed,
    bf16: true,
    ...(d.valFraction > 0 ? { val_size: d.valFraction, per_device_eval_batch_size: c.microBatchSize, eval_strategy: 'steps', eval_steps: c.evalEvery > 0 ? c.evalEvery : 200 } : {}),
  };
  const file = join(input.outDir, 'llamafactory.yaml');
  return {
    files: [
      { name: 'llamafactory.yaml', content: header(input) + stringify(config) },
      { name: 'dataset_info.json', content: `${JSON.stringify(datasetInfo, null, 2)}\n` },
    ],
    launch: [
      `llamafactory-cli train ${file}`,
      `FORCE_TORCHRUN=1 NNODES=1 NPROC_PER_NODE=${input.gpus} llamafactory-cli train ${file}`,
      `# DeepSpeed: add "deepspeed: examples/deepspeed/ds_z2_config.json" (from the LLaMA-Factory checkout) to ${file}, then the line above`,
    ],
  };
}

function header(input: RecipeInput): string {
  return `# Written by alpaca-forge train --emit-recipe ${input.target} (${input.method}); the same LoRA run as alpaca-forge's trainer.\n`;
}

/** Per-device micro-batches × accumulation × GPUs = the global batch; refuses a split that cannot keep it. */
function gradientAccumulation(batchSize: number, microBatchSize: number, gpus: number): number {
  const perStep = microBatchSize * gpus;
  if (batchSize % perStep !== 0) {
    throw new UsageError(
      `--batch-size ${batchSize} is not a multiple of --micro-batch-size ${microBatchSize} × ${gpus} GPU(s)`,
      `choose a batch size that is a multiple of ${perStep}, or change --micro-batch-size / --gpus`,
    );
  }
  return batchSize / perStep;
}

function schedulerName(s: TrainConfig['lrSchedule']): string {
  // Both tools take transformers' scheduler names; ours warms up in every schedule, as constant_with_warmup does.
  return s === 'constant' ? 'constant_with_warmup' : s;
}

/** A local model directory becomes absolute; anything else is taken as a Hugging Face hub id and kept as given. */
function modelRef(model: string | null): string {
  if (!model) throw new UsageError('--model is required', 'pass --model DIR (or a Hugging Face model id for the recipe)');
  return existsSync(model) ? absolute(model) : model;
}

function absolute(p: string): string {
  return isAbsolute(p) ? p : resolve(p);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
