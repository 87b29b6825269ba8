import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelError } from '../../errors.js';
import { writeOutput } from '../../io/write-output.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../model/safetensors.js';
import { targetModuleSchema, type TargetModuleName } from '../../config/train.js';
import { MODULE_ORDER, peftKey, sortModules, transpose, type LoraEntry, type LoraSpec, type LoraWeights } from './lora-weights.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** PEFT task types we write: a causal LM adapter, or one with a sequence-classification head (a reward model). */
export type PeftTaskType = 'CAUSAL_LM' | 'SEQ_CLS';

/** A whole trained module beside the adapter (PEFT modules_to_save), e.g. `score.weight` [1, hidden]. */
export interface NamedTensor {
  /** the module's parameter name in the base model, e.g. "score.weight" */
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface AdapterExtras {
  taskType?: PeftTaskType;
  modulesToSave?: readonly NamedTensor[];
}

/** PEFT's saved key of a modules_to_save parameter: the adapter name (`.modules_to_save.default`) is stripped on save. */
export const savedModuleKey = (name: string): string => `base_model.model.${name}`;
const moduleOf = (name: string): string => name.split('.').slice(0, -1).join('.');

/**
 * adapter_config.json as PEFT writes it for a LoRA adapter. Only keys that PEFT >= 0.7 knows are written, so
 * `PeftModel.from_pretrained` and `peft.PeftConfig.from_pretrained` load it without complaint.
 */
export function adapterConfigJson(spec: LoraSpec, baseModel: string, extras: AdapterExtras = {}): Record<string, unknown> {
  const modules = [...new Set((extras.modulesToSave ?? []).map((t) => moduleOf(t.name)))];
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout,
    modules_to_save: modules.length ? modules : null,
    peft_type: 'LORA',
    r: spec.r,
    rank_pattern: {},
    revision: null,
    target_modules: sortModules(spec.targetModules),
    task_type: extras.taskType ?? 'CAUSAL_LM',
    use_rslora: spec.useRslora,
  };
}

/** Writes adapter_config.json and adapter_model.safetensors (F32, PEFT key names and layouts) into `dir`. */
export function writeAdapter(dir: string, w: LoraWeights, opts: { baseModel: string; metadata?: Record<string, string> } & AdapterExtras): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  const r = w.spec.r;
  for (const e of w.entries) {
    tensors[peftKey(e.layer, e.module, 'A')] = { dtype: 'F32', shape: [r, e.inFeatures], data: transpose(e.a, e.inFeatures, r) };
    tensors[peftKey(e.layer, e.module, 'B')] = { dtype: 'F32', shape: [e.outFeatures, r], data: transpose(e.b, r, e.outFeatures) };
  }
  for (const t of opts.modulesToSave ?? []) tensors[savedModuleKey(t.name)] = { dtype: 'F32', shape: t.shape, data: t.data };
  writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { format: 'pt', ...(opts.metadata ?? {}) });
  writeOutput(join(dir, ADAPTER_CONFIG), `${JSON.stringify(adapterConfigJson(w.spec, opts.baseModel, opts), null, 2)}\n`);
}

const adapterConfigSchema = z.object({
  peft_type: z.string(),
  r: z.number().int().positive(),
  lora_alpha: z.number(),
  lora_dropout: z.number().default(0),
  target_modules: z.union([z.array(z.string()), z.string()]),
  fan_in_fan_out: z.boolean().default(false),
  use_rslora: z.boolean().default(false),
  use_dora: z.boolean().default(false),
  bias: z.string().default('none'),
  base_model_name_or_path: z.string().nullable().default(null),
  rank_pattern: z.record(z.string(), z.unknown()).nullable().default({}),
  alpha_pattern: z.record(z.string(), z.unknown()).nullable().default({}),
  task_type: z.string().nullable().default(null),
  modules_to_save: z.array(z.string()).nullable().default(null),
});

export interface AdapterShapes {
  layers: number;
  /** in/out features of a projection, or undefined if the model has no such module */
  features(layer: number, module: TargetModuleName): { inFeatures: number; outFeatures: number } | undefined;
}

/**
 * Reads a PEFT LoRA adapter directory and checks it against the model it will be applied to: every adapted layer
 * and module must exist with matching shapes. Accepts keys with or without PEFT's adapter name (`.default.`).
 */
export function readAdapter(dir: string, shapes: AdapterShapes): { weights: LoraWeights; baseModel: string | null; taskType: string | null; modulesToSave: NamedTensor[] } {
  const cfgPath = join(dir, ADAPTER_CONFIG);
  const wPath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(cfgPath)) throw new ModelError(`${dir}: no ${ADAPTER_CONFIG}`, 'point --adapter/--init-adapter at a directory written by `alpaca-forge train` or PEFT save_pretrained');
  if (!existsSync(wPath)) {
    const bin = existsSync(join(dir, 'adapter_model.bin'));
    throw new ModelError(`${dir}: no ${ADAPTER_WEIGHTS}${bin ? ' (only adapter_model.bin, a pickle)' : ''}`, bin ? 're-save the adapter with safe_serialization=True' : 'the adapter directory is incomplete');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new ModelError(`${cfgPath}: not valid JSON (${(e as Error).message})`, 'restore the file from the training output');
  }
  const parsed = adapterConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ModelError(`${cfgPath}: field "${i?.path.join('.')}": ${i?.message}`, 'this is not a PEFT LoRA adapter config');
  }
  const c = parsed.data;
  const unsupported = (what: string) => new ModelError(`${cfgPath}: ${what} is not supported`, 'train or re-save a plain LoRA adapter (PEFT LoraConfig without that option)');
  if (c.peft_type !== 'LORA') throw unsupported(`peft_type "${c.peft_type}"`);
  if (c.fan_in_fan_out) throw unsupported('fan_in_fan_out: true');
  if (c.use_dora) throw unsupported('use_dora: true');
  if (c.bias !== 'none') throw unsupported(`bias "${c.bias}"`);
  if ((c.rank_pattern && Object.keys(c.rank_pattern).length) || (c.alpha_pattern && Object.keys(c.alpha_pattern).length)) throw unsupported('rank_pattern/alpha_pattern');
  const listed = typeof c.target_modules === 'string' ? [c.target_modules] : c.target_modules;
  const modules: TargetModuleName[] = [];
  for (const m of listed) {
    const ok = targetModuleSchema.safeParse(m);
    if (!ok.success) throw new ModelError(`${cfgPath}: target module "${m}" is not a LLaMA projection`, `supported modules: ${MODULE_ORDER.join(', ')}`);
    modules.push(ok.data);
  }
  const spec: LoraSpec = { r: c.r, alpha: c.lora_alpha, dropout: c.lora_dropout, targetModules: sortModules(modules), useRslora: c.use_rslora };

  const file = openSafetensors(wPath);
  try {
    const byKey = new Map<string, string>();
    for (const name of file.names()) byKey.set(name.replace('.default.weight', '.weight').replace(/\.lora_([AB])\.default\./, '.lora_$1.'), name);
    const used = new Set<string>();
    const entries: LoraEntry[] = [];
    for (let layer = 0; layer < shapes.layers; layer++) {
      for (const module of spec.targetModules) {
        const ka = byKey.get(peftKey(layer, module, 'A'));
        const kb = byKey.get(peftKey(layer, module, 'B'));
        if (ka === undefined && kb === undefined) continue;
        if (ka === undefined || kb === undefined) throw new ModelError(`${wPath}: layer ${layer} ${module} has only one of lora_A/lora_B`, 'the adapter file is incomplete');
        const f = shapes.features(layer, module);
        if (!f) throw new ModelError(`${wPath}: adapts layer ${layer} ${module}, which this model does not have`, 'use the adapter with the base model it was trained on');
        const ia = file.info(ka);
        const ib = file.info(kb);
        if (JSON.stringify(ia.shape) !== JSON.stringify([spec.r, f.inFeatures]) || JSON.stringify(ib.shape) !== JSON.stringify([f.outFeatures, spec.r])) {
          throw new ModelError(
            `${wPath}: layer ${layer} ${module}: lora_A ${JSON.stringify(ia.shape)} / lora_B ${JSON.stringify(ib.shape)} do not fit r=${spec.r} and the model's [${f.outFeatures}, ${f.inFeatures}] weight`,
            'use the adapter with the base model it was trained on',
          );
        }
        used.add(ka).add(kb);
        entries.push({
          layer,
          module,
          inFeatures: f.inFeatures,
          outFeatures: f.outFeatures,
          a: transpose(file.read(ka), spec.r, f.inFeatures),
          b: transpose(file.read(kb), f.outFeatures, spec.r),
        });
      }
    }
    // modules_to_save (a reward model's score head): kept whole, under the model's own parameter names.
    const modulesToSave: NamedTensor[] = [];
    const saved = new Set((c.modules_to_save ?? []).map((m) => savedModuleKey(m)));
    for (const [key, name] of byKey) {
      if (used.has(name) || !saved.has(moduleOf(key.replace('.modules_to_save', '')))) continue;
      used.add(name);
      modulesToSave.push({ name: key.replace('.modules_to_save', '').slice('base_model.model.'.length), shape: file.info(name).shape, data: file.read(name) });
    }
    const extra = file.names().filter((n) => !used.has(n));
    if (extra.length) {
      throw new ModelError(`${wPath}: tensor "${extra[0]}"${extra.length > 1 ? ` and ${extra.length - 1} more` : ''} does not belong to this model's layers/target modules`, 'use the adapter with the base model it was trained on (same number of layers)');
    }
    if (!entries.length) throw new ModelError(`${wPath}: no LoRA tensors for this model`, 'the adapter is empty or was trained for another architecture');
    return { weights: { spec, entries }, baseModel: c.base_model_name_or_path, taskType: c.task_type, modulesToSave };
  } finally {
    file.close();
  }
}
