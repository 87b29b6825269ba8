import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelError } from '../errors.js';

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'qwen3'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** RoPE frequency scaling, as transformers' `rope_scaling` / `rope_parameters` describe it. */
const ropeScalingSchema = z
  .object({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    factor: z.number().optional(),
    rope_theta: z.number().optional(),
    low_freq_factor: z.number().optional(),
    high_freq_factor: z.number().optional(),
    original_max_position_embeddings: z.number().optional(),
    attention_factor: z.number().optional(),
    beta_fast: z.number().optional(),
    beta_slow: z.number().optional(),
  })
  .passthrough();

const rawConfigSchema = z
  .object({
    model_type: z.string(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().nullish(),
    head_dim: z.number().int().positive().nullish(),
    vocab_size: z.number().int().positive(),
    rms_norm_eps: z.number().positive().optional(),
    rope_theta: z.number().positive().optional(),
    rope_scaling: ropeScalingSchema.nullish(),
    rope_parameters: ropeScalingSchema.nullish(),
    max_position_embeddings: z.number().int().positive().optional(),
    tie_word_embeddings: z.boolean().optional(),
    attention_bias: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
    hidden_act: z.string().optional(),
    sliding_window: z.number().int().positive().nullish(),
    use_sliding_window: z.boolean().optional(),
    bos_token_id: z.union([z.number(), z.null()]).optional(),
    eos_token_id: z.union([z.number(), z.array(z.number()), z.null()]).optional(),
    pad_token_id: z.union([z.number(), z.null()]).optional(),
  })
  .passthrough();

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
  | { type: 'yarn'; factor: number; originalMaxPositionEmbeddings: number; attentionFactor: number | undefined; betaFast: number; betaSlow: number };

/** config.json normalised over the supported architectures (every field the forward pass reads). */
export interface ModelConfig {
  modelType: ModelType;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (always for Qwen2; `attention_bias` for Llama/Qwen3). */
  attentionBias: boolean;
  /** Bias on o_proj (Llama/Qwen3 `attention_bias`; Qwen2 has none). */
  outputBias: boolean;
  /** Bias on gate/up/down (Llama `mlp_bias`). */
  mlpBias: boolean;
  /** Qwen3: RMSNorm over each head of q and k before RoPE. */
  qkNorm: boolean;
  /** Mistral's sliding-window attention span, or null for full causal attention. */
  slidingWindow: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

export function parseModelConfig(raw: unknown, file = 'config.json'): ModelConfig {
  const pre = z.object({ model_type: z.string() }).passthrough().safeParse(raw);
  if (!pre.success) throw new ModelError(`${file}: no "model_type"`, 'this does not look like a Hugging Face transformers config.json');
  const type = pre.data.model_type;
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new ModelError(`${file}: unsupported architecture "${type}"`, `supported model_type values: ${SUPPORTED_MODEL_TYPES.join(', ')} (Llama 2/3, Mistral, Qwen2/2.5, Qwen3, SmolLM2, TinyLlama)`);
  }
  const r = rawConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ModelError(`${file}: field "${issue?.path.join('.') ?? '?'}": ${issue?.message ?? 'invalid'}`, 'fix or re-download config.json');
  }
  const c = r.data;
  const modelType = type as ModelType;
  if (c.hidden_act !== undefined && c.hidden_act !== 'silu') {
    throw new ModelError(`${file}: hidden_act "${c.hidden_act}" is not supported`, 'only SwiGLU (silu) MLPs are implemented');
  }
  const numKvHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % numKvHeads !== 0) {
    throw new ModelError(`${file}: num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new ModelError(`${file}: head size ${headDim} must be an even integer`, 'set head_dim in config.json');
  // transformers v5 moved rope_theta and the scaling into `rope_parameters`.
  const params = c.rope_parameters ?? c.rope_scaling ?? null;
  const ropeTheta = c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000;
  const maxPos = c.max_position_embeddings ?? 2048;
  const ropeScaling = parseRopeScaling(params, maxPos, file);
  const attentionBias = modelType === 'qwen2' ? true : (c.attention_bias ?? false);
  const outputBias = modelType === 'qwen2' ? false : (c.attention_bias ?? false);
  const eos = c.eos_token_id;
  return {
    modelType,
    hiddenSize: c.hidden_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads,
    headDim,
    intermediateSize: c.intermediate_size,
    vocabSize: c.vocab_size,
    rmsNormEps: c.rms_norm_eps ?? 1e-6,
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings: maxPos,
    tieWordEmbeddings: c.tie_word_embeddings ?? false,
    attentionBias,
    outputBias,
    mlpBias: c.mlp_bias ?? false,
    qkNorm: modelType === 'qwen3',
    slidingWindow: modelType === 'mistral' ? (c.sliding_window ?? null) : c.use_sliding_window ? (c.sliding_window ?? null) : null,
    bosTokenId: c.bos_token_id ?? null,
    eosTokenIds: eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos],
  };
}

function parseRopeScaling(p: z.infer<typeof ropeScalingSchema> | null, maxPos: number, file: string): RopeScaling {
  if (!p) return { type: 'default' };
  const type = p.rope_type ?? p.type ?? 'default';
  const need = (v: number | undefined, name: string): number => {
    if (v === undefined) throw new ModelError(`${file}: rope scaling "${type}" needs "${name}"`, 'fix rope_scaling in config.json');
    return v;
  };
  switch (type) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: need(p.factor, 'factor') };
    case 'llama3':
      return {
        type: 'llama3',
        factor: need(p.factor, 'factor'),
        lowFreqFactor: need(p.low_freq_factor, 'low_freq_factor'),
        highFreqFactor: need(p.high_freq_factor, 'high_freq_factor'),
        originalMaxPositionEmbeddings: need(p.original_max_position_embeddings, 'original_max_position_embeddings'),
      };
    case 'yarn':
      return {
        type: 'yarn',
        factor: need(p.factor, 'factor'),
        originalMaxPositionEmbeddings: p.original_max_position_embeddings ?? maxPos,
        attentionFactor: p.attention_factor,
        betaFast: p.beta_fast ?? 32,
        betaSlow: p.beta_slow ?? 1,
      };
    default:
      throw new ModelError(`${file}: rope scaling type "${type}" is not supported`, 'supported: default, linear, llama3, yarn');
  }
}

export function loadModelConfig(dir: string): ModelConfig {
  const file = join(dir, 'config.json');
  return parseModelConfig(readJsonFile(file, 'point --model at a Hugging Face model directory (it must contain config.json)'), file);
}

/** generation_config.json, normalised; every field optional (the file itself is optional). */
export interface GenerationConfig {
  eosTokenIds: number[];
  bosTokenId: number | null;
  padTokenId: number | null;
  temperature: number | undefined;
  topP: number | undefined;
  topK: number | undefined;
  doSample: boolean | undefined;
  maxNewTokens: number | undefined;
}

const generationSchema = z
  .object({
    eos_token_id: z.union([z.number(), z.array(z.number()), z.null()]).optional(),
    bos_token_id: z.union([z.number(), z.null()]).optional(),
    pad_token_id: z.union([z.number(), z.null()]).optional(),
    temperature: z.number().optional(),
    top_p: z.number().optional(),
    top_k: z.number().optional(),
    do_sample: z.boolean().optional(),
    max_new_tokens: z.number().optional(),
  })
  .passthrough();

export function loadGenerationConfig(dir: string): GenerationConfig {
  const file = join(dir, 'generation_config.json');
  const raw = existsSync(file) ? readJsonFile(file, 'fix or delete generation_config.json') : {};
  const r = generationSchema.safeParse(raw);
  if (!r.success) throw new ModelError(`${file}: field "${r.error.issues[0]?.path.join('.')}": ${r.error.issues[0]?.message}`, 'fix or delete generation_config.json');
  const g = r.data;
  const eos = g.eos_token_id;
  return {
    eosTokenIds: eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos],
    bosTokenId: g.bos_token_id ?? null,
    padTokenId: g.pad_token_id ?? null,
    temperature: g.temperature,
    topP: g.top_p,
    topK: g.top_k,
    doSample: g.do_sample,
    maxNewTokens: g.max_new_tokens,
  };
}

export function readJsonFile(file: string, hint: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ModelError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, hint);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelError(`${file}: not valid JSON (${(e as Error).message})`, hint);
  }
}
