import * as tf from '@tensorflow/tfjs';
import { existsSync, statSync } from 'node:fs';
import { ModelError } from '../errors.js';
import { currentBackend } from './backend.js';
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

/**
 * The vocabulary-sized matrices split into consecutive vocabulary blocks, so that no tensor is larger than one GPU
 * storage binding (a 128K × 4096 float32 embedding is 2.1 GB; WebGPU adapters bind 1–2 GiB). One block when it fits.
 */
export interface LmHead {
  inFeatures: number;
  outFeatures: number;
  /** Block i covers vocabulary ids [starts[i], starts[i] + blocks[i].outFeatures). */
  blocks: FrozenLinear[];
  starts: number[];
}

export interface LlamaModel {
  dir: string;
  config: ModelConfig;
  tokenizer: Tokenizer;
  generationConfig: GenerationConfig;
  /**
   * Token embeddings as row blocks [Vb, H] (the same split as head.starts) for the lookup, or null when tied and not
   * training (then the head blocks' wT columns are gathered).
   */
  embedTable: tf.Tensor2D[] | null;
  /** LM head: per block wT [H, Vb] (the embedding matrix transposed when tied). */
  head: LmHead;
  finalNorm: tf.Tensor1D;
  layers: LlamaLayer[];
  rope: Rope;
  training: boolean;
  dispose(): void;
}

export interface LoadModelOptions {
  /** Also keep the [out, in] layouts the backward pass needs (about 2x weight memory). Defaults to false. */
  training?: boolean;
  /**
   * Largest tensor, in bytes, the backend can hold in one buffer binding: embedding and LM head are split into
   * vocabulary blocks under it. Defaults to the WebGPU adapter's limit (min of maxStorageBufferBindingSize and
   * maxBufferSize), no limit on other backends.
   */
  maxTensorBytes?: number;
}

function defaultMaxTensorBytes(): number {
  const limits = currentBackend()?.limits;
  return limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize) : Infinity;
}

/** Row blocks of a [rows, cols] float32 matrix, each at most maxBytes (at least one row per block). */
export function rowBlocks(rows: number, cols: number, maxBytes: number): number[] {
  const per = Math.max(1, Math.min(rows, Math.floor(maxBytes / (4 * cols))));
  const starts: number[] = [];
  for (let r = 0; r < rows; r += per) starts.push(r);
  return starts;
}

/** Loads a Hugging Face LLaMA-family checkpoint directory onto the current TensorFlow.js backend. */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<LlamaModel> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelError(`${dir}: model directory not found`, 'pass --model a directory holding config.json, *.safetensors and tokenizer files');
  }
  const training = opts.training ?? false;
  const maxTensorBytes = opts.maxTensorBytes ?? defaultMaxTensorBytes();
  const config = loadModelConfig(dir);
  const tokenizer = await loadTokenizer(dir, { bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds });
  if (tokenizer.size > config.vocabSize) {
    throw new ModelError(`${dir}: tokenizer.json has ${tokenizer.size} ids but config.json vocab_size is ${config.vocabSize}`, 'tokenizer and weights come from different models');
  }
  const generationConfig = loadGenerationConfig(dir);
  const st = readSafetensorsDir(dir);
  const owned: tf.Tensor[] = [];
  try {
    return buildModel(dir, config, tokenizer, generationConfig, st, training, maxTensorBytes, owned);
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
  maxTensorBytes: number,
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
    if (4 * inF * outF > maxTensorBytes) {
      throw new ModelError(
        `${prefix}.weight is ${((4 * inF * outF) / 2 ** 30).toFixed(2)} GiB as float32, over the backend's ${(maxTensorBytes / 2 ** 30).toFixed(2)} GiB per-tensor limit`,
        'only the embedding and LM head are split at load; use --backend wasm (or tensorflow) for this model',
      );
    }
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
  const tied = config.tieWordEmbeddings;
  if (!tied && !st.has('lm_head.weight')) {
    throw new ModelError(`${st.files.join(', ')}: missing tensor "lm_head.weight" (config.json has tie_word_embeddings false)`, 'set tie_word_embeddings true if the model shares its embeddings, or re-download the weights');
  }
  const starts = rowBlocks(V, H, maxTensorBytes);
  const sizes = starts.map((s, i) => (starts[i + 1] ?? V) - s);
  // Row blocks [Vb, H] of a vocabulary matrix, uploaded block by block so the whole never exists on the backend.
  const blocksOf = (data: Float32Array) => starts.map((s, i) => tf.tensor2d(data.subarray(s * H, (s + sizes[i]!) * H), [sizes[i]!, H]));
  const emb = blocksOf(read('model.embed_tokens.weight', [V, H]));
  let embedTable: tf.Tensor2D[] | null;
  let headW: tf.Tensor2D[];
  if (tied) {
    headW = emb;
    // Not training: the lookup gathers columns of wT instead, one copy of a (possibly 2 GB) matrix instead of two.
    embedTable = training ? emb.map(keep) : null;
  } else {
    embedTable = emb.map(keep);
    headW = blocksOf(read('lm_head.weight', [V, H]));
    if (training) headW.forEach(keep);
  }
  const head: LmHead = {
    inFeatures: H,
    outFeatures: V,
    starts,
    blocks: headW.map((w, i) => ({ inFeatures: H, outFeatures: sizes[i]!, wT: keep(tf.transpose(w)), w: training ? w : null, bias: null })),
  };
  if (!training) tf.dispose(headW.filter((w) => !embedTable?.includes(w)));
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
