import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelError } from '../../errors.js';
import { writeOutput } from '../../io/write-output.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../model/safetensors.js';
import { PEFT_TYPE, encoderHidden, paramShapes, peftDims, savedWidth, type PromptAdapterKind, type PromptDims, type PromptParam, type PromptSpec, type PromptWeights } from './prompt-spec.js';

/**
 * The files of PEFT's prompt-learning adapters, one mapping keyed by peft_type as PEFT's save_and_load.py does.
 * adapter_model.safetensors holds one tensor, `prompt_embeddings`: what the prompt encoder outputs for the
 * virtual tokens (get_prompt_embedding_to_save), i.e. the embeddings [P, token_dim] for prompt tuning and
 * P-tuning (P-tuning's encoder itself is not saved: PEFT loads the output in inference mode), and the flat
 * keys/values [P, layers·2·token_dim] for prefix tuning. Our checkpoints also keep the encoder's parameters
 * (ENCODER_WEIGHTS, under PEFT's module names) so that a resumed run continues exactly.
 */
export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ENCODER_WEIGHTS = 'prompt_encoder.safetensors';
export const PROMPT_EMBEDDINGS = 'prompt_embeddings';

const KIND_OF: Record<string, PromptAdapterKind> = Object.fromEntries(Object.entries(PEFT_TYPE).map(([k, v]) => [v, k as PromptAdapterKind]));

/**
 * adapter_config.json as PEFT's save_pretrained writes it (inference_mode true, task CAUSAL_LM). Only keys PEFT
 * >= 0.7 knows are written; newer ones (peft_version, modules_to_save, init_weights) keep their defaults.
 */
export function promptConfigJson(spec: PromptSpec, d: PromptDims, baseModel: string): Record<string, unknown> {
  const { tokenDim, numAttentionHeads } = peftDims(spec.kind, d);
  const common = {
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    inference_mode: true,
    num_attention_heads: numAttentionHeads,
    num_layers: d.numLayers,
    num_transformer_submodules: 1,
    num_virtual_tokens: spec.numVirtualTokens,
    peft_type: PEFT_TYPE[spec.kind],
    revision: null,
    task_type: 'CAUSAL_LM',
    token_dim: tokenDim,
  };
  const extra: Record<string, unknown> =
    spec.kind === 'prompt-tuning'
      ? {
          prompt_tuning_init: spec.initText === null ? 'RANDOM' : 'TEXT',
          prompt_tuning_init_text: spec.initText,
          // PEFT's config refuses TEXT without a tokenizer (it is read only when training starts).
          tokenizer_kwargs: null,
          tokenizer_name_or_path: spec.initText === null ? null : baseModel,
        }
      : spec.kind === 'p-tuning'
        ? { encoder_dropout: 0, encoder_hidden_size: encoderHidden(spec, d), encoder_num_layers: spec.encoderNumLayers ?? 2, encoder_reparameterization_type: spec.encoderType ?? 'MLP' }
        : { encoder_hidden_size: encoderHidden(spec, d), prefix_projection: spec.prefixProjection };
  const all: Record<string, unknown> = { ...common, ...extra };
  return Object.fromEntries(Object.keys(all).sort().map((k) => [k, all[k]]));
}

/** Writes adapter_config.json and adapter_model.safetensors (`prompt_embeddings`, F32) into `dir`. */
export function writePromptAdapter(dir: string, spec: PromptSpec, d: PromptDims, promptEmbeddings: Float32Array, opts: { baseModel: string; metadata?: Record<string, string> }): void {
  mkdirSync(dir, { recursive: true });
  const width = savedWidth(spec.kind, d);
  writeSafetensors(join(dir, ADAPTER_WEIGHTS), { [PROMPT_EMBEDDINGS]: { dtype: 'F32', shape: [spec.numVirtualTokens, width], data: promptEmbeddings } }, { format: 'pt', ...(opts.metadata ?? {}) });
  writeOutput(join(dir, ADAPTER_CONFIG), `${JSON.stringify(promptConfigJson(spec, d, opts.baseModel), null, 2)}\n`);
}

/** The trainable parameters (PEFT's prompt_encoder state dict) beside the adapter, for checkpoints. */
export function writePromptEncoder(dir: string, w: PromptWeights): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const p of w.params) tensors[p.name] = { dtype: 'F32', shape: p.shape, data: p.data };
  writeSafetensors(join(dir, ENCODER_WEIGHTS), tensors, { format: 'pt' });
}

/** Reads the parameters writePromptEncoder wrote, checked against the spec's names and shapes. */
export function readPromptEncoder(dir: string, spec: PromptSpec, d: PromptDims): PromptWeights {
  const path = join(dir, ENCODER_WEIGHTS);
  if (!existsSync(path)) throw new ModelError(`${path}: missing`, 'this checkpoint was not written by a prompt-learning run; resume with the adapter it was trained with');
  const file = openSafetensors(path);
  try {
    const params: PromptParam[] = paramShapes(spec, d).map(({ name, shape }) => {
      if (!file.names().includes(name)) throw new ModelError(`${path}: no tensor "${name}"`, 'resume with the same --adapter settings the run started with');
      const got = file.info(name).shape;
      if (JSON.stringify(got) !== JSON.stringify(shape)) throw new ModelError(`${path}: "${name}" is ${JSON.stringify(got)}, expected ${JSON.stringify(shape)}`, 'resume with the same --adapter settings and model');
      return { name, shape, data: file.read(name) };
    });
    return { spec, dims: d, params };
  } finally {
    file.close();
  }
}

const peftTypeSchema = z.object({ peft_type: z.string() });

/** The peft_type adapter_config.json names (LORA, PROMPT_TUNING…), to pick the reader. */
export function adapterPeftType(dir: string): string {
  const cfgPath = join(dir, ADAPTER_CONFIG);
  if (!existsSync(cfgPath)) throw new ModelError(`${dir}: no ${ADAPTER_CONFIG}`, 'point --adapter at a directory written by `alpaca-forge train` or PEFT save_pretrained');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new ModelError(`${cfgPath}: not valid JSON (${(e as Error).message})`, 'restore the file from the training output');
  }
  const parsed = peftTypeSchema.safeParse(raw);
  if (!parsed.success) throw new ModelError(`${cfgPath}: field "peft_type" is missing or not a string`, 'this is not a PEFT adapter config');
  return parsed.data.peft_type;
}

export const isPromptPeftType = (t: string): boolean => t in KIND_OF;

const promptConfigSchema = z.object({
  peft_type: z.enum(['PROMPT_TUNING', 'P_TUNING', 'PREFIX_TUNING']),
  task_type: z.string().nullable().default(null),
  num_virtual_tokens: z.number().int().positive(),
  token_dim: z.number().int().positive().nullable().default(null),
  num_transformer_submodules: z.number().int().nullable().default(1),
  num_attention_heads: z.number().int().positive().nullable().default(null),
  num_layers: z.number().int().positive().nullable().default(null),
  encoder_hidden_size: z.number().int().positive().nullable().default(null),
  encoder_reparameterization_type: z.enum(['MLP', 'LSTM']).nullable().default('MLP'),
  encoder_num_layers: z.number().int().positive().nullable().default(2),
  prefix_projection: z.boolean().default(false),
  prompt_tuning_init_text: z.string().nullable().default(null),
  base_model_name_or_path: z.string().nullable().default(null),
});

export interface SavedPromptAdapter {
  spec: PromptSpec;
  /** PEFT's `prompt_embeddings`, [P, savedWidth]. */
  promptEmbeddings: Float32Array;
  baseModel: string | null;
}

/**
 * Reads a prompt-learning adapter (ours or PEFT's) and checks it against the model: layers, token_dim and heads
 * must be what PEFT would have derived from this model's config.
 */
export function readPromptAdapter(dir: string, d: PromptDims): SavedPromptAdapter {
  const cfgPath = join(dir, ADAPTER_CONFIG);
  const wPath = join(dir, ADAPTER_WEIGHTS);
  adapterPeftType(dir);
  if (!existsSync(wPath)) {
    const bin = existsSync(join(dir, 'adapter_model.bin'));
    throw new ModelError(`${dir}: no ${ADAPTER_WEIGHTS}${bin ? ' (only adapter_model.bin, a pickle)' : ''}`, bin ? 're-save the adapter with safe_serialization=True' : 'the adapter directory is incomplete');
  }
  const parsed = promptConfigSchema.safeParse(JSON.parse(readFileSync(cfgPath, 'utf8')));
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ModelError(`${cfgPath}: field "${i?.path.join('.')}": ${i?.message}`, 'this is not a PEFT prompt-learning adapter config');
  }
  const c = parsed.data;
  const kind = KIND_OF[c.peft_type] as PromptAdapterKind;
  const mismatch = (what: string) => new ModelError(`${cfgPath}: ${what}`, 'use the adapter with the base model it was trained on');
  if (c.task_type !== null && c.task_type !== 'CAUSAL_LM') throw new ModelError(`${cfgPath}: task_type "${c.task_type}" is not supported`, 'only CAUSAL_LM prompt-learning adapters can be used here');
  if (c.num_transformer_submodules !== null && c.num_transformer_submodules !== 1) throw mismatch(`num_transformer_submodules ${c.num_transformer_submodules} (an encoder-decoder adapter)`);
  const { tokenDim, numAttentionHeads } = peftDims(kind, d);
  if (c.num_layers !== null && c.num_layers !== d.numLayers) throw mismatch(`num_layers ${c.num_layers}, the model has ${d.numLayers}`);
  if (c.token_dim !== null && c.token_dim !== tokenDim) throw mismatch(`token_dim ${c.token_dim}, expected ${tokenDim} for this model`);
  if (kind === 'prefix-tuning' && c.num_attention_heads !== null && c.num_attention_heads !== numAttentionHeads) throw mismatch(`num_attention_heads ${c.num_attention_heads}, the model has ${numAttentionHeads} key/value heads`);
  const spec: PromptSpec = {
    kind,
    numVirtualTokens: c.num_virtual_tokens,
    encoderHiddenSize: c.encoder_hidden_size,
    prefixProjection: c.prefix_projection,
    initText: c.prompt_tuning_init_text,
    // Only the encoder's output is saved, so the encoder type changes nothing at inference; kept for the record.
    ...(kind === 'p-tuning' && c.encoder_reparameterization_type === 'LSTM' ? { encoderType: 'LSTM' as const, encoderNumLayers: c.encoder_num_layers ?? 2 } : {}),
  };
  const file = openSafetensors(wPath);
  try {
    const names = file.names();
    if (!names.includes(PROMPT_EMBEDDINGS)) throw new ModelError(`${wPath}: no tensor "${PROMPT_EMBEDDINGS}"`, 'this is not a PEFT prompt-learning adapter');
    const extra = names.filter((n) => n !== PROMPT_EMBEDDINGS);
    if (extra.length) throw new ModelError(`${wPath}: unexpected tensor "${extra[0]}"`, 'only prompt_embeddings is supported (no modules_to_save)');
    const shape = file.info(PROMPT_EMBEDDINGS).shape;
    const expected = [c.num_virtual_tokens, savedWidth(kind, d)];
    if (JSON.stringify(shape) !== JSON.stringify(expected)) throw mismatch(`${PROMPT_EMBEDDINGS} is ${JSON.stringify(shape)}, expected ${JSON.stringify(expected)}`);
    return { spec, promptEmbeddings: file.read(PROMPT_EMBEDDINGS), baseModel: c.base_model_name_or_path };
  } finally {
    file.close();
  }
}
