import * as tf from '@tensorflow/tfjs';
import { existsSync, statSync } from 'node:fs';
import { ModelError } from '../errors.js';
import { loadGenerationConfig, loadModelConfig, type GenerationConfig, type ModelConfig } from './config.js';
import { readSafetensorsDir, type SafetensorsDir } from './safetensors.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { buildRope, type Rope } from './rope.js';

export type TargetModule = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';
export const TARGET_MODULES: readonly TargetModule[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

/** Hugging Face name of a projection's weight: model.layers.{i}.self_attn.q_proj.weight, model.layers.{i}.mlp.gate_proj.weight… */
export function hfModuleName(layer: number, module: TargetModule): string {
  const block = module === 'gate_proj' || module === 'up_proj' || module === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${module}`;
}
export const hfWeightName = (layer: number, module: TargetModule): string => `${hfModuleName(layer, module)}.weight`;

/**
 * A frozen Linear layer y = x·Wᵀ (+ b). Hugging Face stores W as [out, in]; wasm's matMul with transposeB is ~10x
 * slower than the plain one, so the forward pass keeps `wT` = Wᵀ [in, out], and training also keeps `w` [out, in]
 * for the backward pass dx = dy·W.
 */
export interface FrozenLinear {
  inFeatures: number;
  outFeatures: number;
  /** [in, out] */
  wT: tf.Tensor2D;
  /** [out, in]; only when loaded with { training: true }. */
  w: tf.Tensor2D | null;
  bias: tf.Tensor1D | null;
}

export interface LlamaLayer {
  inputNorm: tf.Tensor1D;
  postAttentionNorm: tf.Tensor1D;
  /** Qwen3 per-head RMSNorm weights [headDim], else null. */
  qNorm: tf.Tensor1D | null;
  kNorm: tf.Tensor1D | null;
  proj: Record<TargetModule, FrozenLinear>;
}

export interface LlamaModel {
  dir: string;
  config: ModelConfig;
  tokenizer: Tokenizer;
  generationConfig: GenerationConfig;
  /** Token embeddings [V, H] for the lookup, or null when tied and not training (then the head's wT is used). */
  embedTable: tf.Tensor2D | null;
  /** LM head: wT [H, V] (the embedding matrix transposed when tied). */
  head: FrozenLinear;
  finalNorm: tf.Tensor1D;
  layers: LlamaLayer[];
  rope: Rope;
  training: boolean;
  dispose(): void;
}

export interface LoadModelOptions {
  /** Also keep the [out, in] layouts the backward pass needs (about 2x weight memory). Defaults to false. */
  training?: boolean;
}

/** Loads a Hugging Face LLaMA-family checkpoint directory onto the current TensorFlow.js backend. */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<LlamaModel> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelError(`${dir}: model directory not found`, 'pass --model a directory holding config.json, *.safetensors and tokenizer files');
  }
  const training = opts.training ?? false;
  const config = loadModelConfig(dir);
  const tokenizer = await loadTokenizer(dir, { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds });
  if (tokenizer.size > config.vocabSize) {
    throw new ModelError(`${dir}: tokenizer.json has ${tokenizer.size} ids but config.json vocab_size is ${config.vocabSize}`, 'tokenizer and weights come from different models');
  }
  const generationConfig = loadGenerationConfig(dir);
  const st = readSafetensorsDir(dir);
  const owned: tf.Tensor[] = [];
  try {
    return buildModel(dir, config, tokenizer, generationConfig, st, training, owned);
  } catch (e) {
    tf.dispose(owned);
    throw e;
  } finally {
    st.close();
  }
}

function buildModel(
  dir: string,
  config: ModelConfig,
  tokenizer: Tokenizer,
  generationConfig: GenerationConfig,
  st: SafetensorsDir,
  training: boolean,
  owned: tf.Tensor[],
): LlamaModel {
  const H = config.hiddenSize;
  const read = (name: string, shape: number[]): Float32Array => {
    if (!st.has(name)) {
      throw new ModelError(`${st.files.join(', ')}: missing tensor "${name}"`, 'the weights do not match config.json (wrong architecture, or an incomplete download)');
    }
    const info = st.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelError(`${info.file}: tensor "${name}" has shape [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`, 'weights and config.json come from different models');
    }
    return st.read(name);
  };
  const keep = <T extends tf.Tensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  const vector = (name: string, n: number) => keep(tf.tensor1d(read(name, [n])));
  const linear = (prefix: string, inF: number, outF: number, hasBias: boolean): FrozenLinear => {
    const w = tf.tensor2d(read(`${prefix}.weight`, [outF, inF]), [outF, inF]);
    const wT = keep(tf.transpose(w));
    if (training) keep(w);
    else w.dispose();
    const bias = hasBias ? vector(`${prefix}.bias`, outF) : null;
    return { inFeatures: inF, outFeatures: outF, wT, w: training ? w : null, bias };
  };
  const qOut = config.numHeads * config.headDim;
  const kvOut = config.numKvHeads * config.headDim;
  const layers: LlamaLayer[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const p = (m: TargetModule) => hfModuleName(i, m);
    const attnBias = config.attentionBias;
    layers.push({
      inputNorm: vector(`model.layers.${i}.input_layernorm.weight`, H),
      postAttentionNorm: vector(`model.layers.${i}.post_attention_layernorm.weight`, H),
      qNorm: config.qkNorm ? vector(`model.layers.${i}.self_attn.q_norm.weight`, config.headDim) : null,
      kNorm: config.qkNorm ? vector(`model.layers.${i}.self_attn.k_norm.weight`, config.headDim) : null,
      proj: {
        q_proj: linear(p('q_proj'), H, qOut, attnBias),
        k_proj: linear(p('k_proj'), H, kvOut, attnBias),
        v_proj: linear(p('v_proj'), H, kvOut, attnBias),
        o_proj: linear(p('o_proj'), qOut, H, config.outputBias),
        gate_proj: linear(p('gate_proj'), H, config.intermediateSize, config.mlpBias),
        up_proj: linear(p('up_proj'), H, config.intermediateSize, config.mlpBias),
        down_proj: linear(p('down_proj'), config.intermediateSize, H, config.mlpBias),
      },
    });
  }
  const V = config.vocabSize;
  const finalNorm = vector('model.norm.weight', H);
  let embedTable: tf.Tensor2D | null;
  let head: FrozenLinear;
  const tied = config.tieWordEmbeddings;
  if (!tied && !st.has('lm_head.weight')) {
    throw new ModelError(`${st.files.join(', ')}: missing tensor "lm_head.weight" (config.json has tie_word_embeddings false)`, 'set tie_word_embeddings true if the model shares its embeddings, or re-download the weights');
  }
  const emb = tf.tensor2d(read('model.embed_tokens.weight', [V, H]), [V, H]);
  if (tied) {
    const wT = keep(tf.transpose(emb));
    if (training) {
      embedTable = keep(emb);
      head = { inFeatures: H, outFeatures: V, wT, w: emb, bias: null };
    } else {
      // The lookup gathers columns of wT instead: one copy of a (possibly 2 GB) matrix instead of two.
      emb.dispose();
      embedTable = null;
      head = { inFeatures: H, outFeatures: V, wT, w: null, bias: null };
    }
  } else {
    embedTable = keep(emb);
    head = linear('lm_head', H, V, false);
  }
  return {
    dir,
    config,
    tokenizer,
    generationConfig,
    embedTable,
    head,
    finalNorm,
    layers,
    rope: buildRope(config),
    training,
    dispose: () => tf.dispose(owned),
  };
}
