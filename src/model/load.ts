import * as tf from '@tensorflow/tfjs';
import { existsSync, statSync } from 'node:fs';
import { ModelError } from '../errors.js';
import { currentBackend } from './backend.js';
import { loadGenerationConfig, loadModelConfig, type GenerationConfig, type ModelConfig } from './config.js';
import { readSafetensorsDir, type SafetensorsDir } from './safetensors.js';
import { loadTokenizer, type Tokenizer } from './tokenizer.js';
import { buildRope, type Rope } from './rope.js';
import { packWeight, type BaseWeights } from './base-weights.js';
import { bindingLimit } from './binding-limit.js';
import { packedTensors, uploadPacked, type PackedWeight } from './widen-weights.js';

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
 * slower than the plain one, so the forward pass keeps `wT` = Wᵀ [in, out], and training on wasm also keeps `w`
 * [out, in] for the backward pass dx = dy·W. Elsewhere (and whenever the weight is packed) one layout is kept and
 * the backward pass multiplies by it transposed.
 */
export interface FrozenLinear {
  inFeatures: number;
  outFeatures: number;
  /** [in, out] float32; null when the weight is packed (bf16, int8): widen `packed` instead. */
  wT: tf.Tensor2D | null;
  /** [out, in]; only when loaded with two layouts. */
  w: tf.Tensor2D | null;
  bias: tf.Tensor1D | null;
  /** the [in, out] weight in bf16 or int8, or null when `wT` holds it in float32 */
  packed: PackedWeight | null;
}

/** A frozen Linear kept in float32 (the vocabulary blocks always are). */
export interface DenseLinear extends FrozenLinear {
  wT: tf.Tensor2D;
  packed: null;
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
  blocks: DenseLinear[];
  starts: number[];
}

export interface LlamaModel {
  dir: string;
  config: ModelConfig;
  tokenizer: Tokenizer;
  generationConfig: GenerationConfig;
  /**
   * Token embeddings as row blocks [Vb, H] (the same split as head.starts) for the lookup, or null when tied and
   * kept in one layout (then the head blocks' wT columns are gathered).
   */
  embedTable: tf.Tensor2D[] | null;
  /** LM head: per block wT [H, Vb] (the embedding matrix transposed when tied). */
  head: LmHead;
  finalNorm: tf.Tensor1D;
  layers: LlamaLayer[];
  rope: Rope;
  training: boolean;
  /** how the projection matrices are stored (embeddings, LM head, norms and biases stay float32) */
  baseWeights: BaseWeights;
  /** forwardHidden's default: rebuild each layer in the backward pass instead of keeping its internals */
  gradientCheckpointing: boolean;
  dispose(): void;
}

export interface LoadModelOptions {
  /** Load for training: decides the default of weightLayouts. Defaults to false. */
  training?: boolean;
  /** Storage of the projection matrices. Defaults to 'f32'. */
  baseWeights?: BaseWeights;
  /**
   * 2 also keeps the [out, in] float32 layouts the backward pass multiplies by (twice the weight memory, and
   * worth it only where matMul with transposeB is slow: wasm and the JS cpu backend). Defaults to 2 when training
   * float32 weights on those backends, else 1.
   */
  weightLayouts?: 1 | 2;
  /** Gradient checkpointing in every forward pass of this model (see ForwardOptions). Defaults to false. */
  gradientCheckpointing?: boolean;
  /**
   * Largest tensor, in bytes, the backend can hold in one buffer binding: embedding and LM head are split into
   * vocabulary blocks under it. Defaults to the WebGPU adapter's limit (min of maxStorageBufferBindingSize,
   * maxBufferSize and 2 GiB − 4), no limit on other backends.
   */
  maxTensorBytes?: number;
}

function defaultMaxTensorBytes(): number {
  const limits = currentBackend()?.limits;
  return limits ? bindingLimit(limits) : Infinity;
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
  const baseWeights = opts.baseWeights ?? 'f32';
  const layouts = opts.weightLayouts ?? defaultWeightLayouts(training, baseWeights);
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
    const model = buildModel(dir, config, tokenizer, generationConfig, st, { training, baseWeights, twoLayouts: layouts === 2 && baseWeights === 'f32', maxTensorBytes }, owned);
    return { ...model, gradientCheckpointing: opts.gradientCheckpointing ?? false };
  } catch (e) {
    tf.dispose(owned);
    throw e;
  } finally {
    st.close();
  }
}

/** Backends whose matMul with transposeB is ~10× slower than the plain one (NOTES: wasm 1.6 vs 15–20 GFLOP/s). */
const SLOW_TRANSPOSE_B = new Set(['wasm', 'cpu']);

export function defaultWeightLayouts(training: boolean, baseWeights: BaseWeights, backend: string = tf.getBackend()): 1 | 2 {
  return training && baseWeights === 'f32' && SLOW_TRANSPOSE_B.has(backend) ? 2 : 1;
}

/** Row-major [rows, cols] → [cols, rows] on the host (packed weights are packed in the forward layout). */
function transposeHost(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

interface BuildOptions {
  training: boolean;
  baseWeights: BaseWeights;
  twoLayouts: boolean;
  maxTensorBytes: number;
}

function buildModel(
  dir: string,
  config: ModelConfig,
  tokenizer: Tokenizer,
  generationConfig: GenerationConfig,
  st: SafetensorsDir,
  { training, baseWeights, twoLayouts, maxTensorBytes }: BuildOptions,
  owned: tf.Tensor[],
): Omit<LlamaModel, 'gradientCheckpointing'> {
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
    const data = read(`${prefix}.weight`, [outF, inF]);
    const bias = hasBias ? vector(`${prefix}.bias`, outF) : null;
    if (baseWeights !== 'f32') {
      const packed = uploadPacked(packWeight(baseWeights, transposeHost(data, outF, inF), inF, outF));
      packedTensors(packed).forEach(keep);
      return { inFeatures: inF, outFeatures: outF, wT: null, w: null, bias, packed };
    }
    const w = tf.tensor2d(data, [outF, inF]);
    const wT = keep(tf.transpose(w));
    if (twoLayouts) keep(w);
    else w.dispose();
    return { inFeatures: inF, outFeatures: outF, wT, w: twoLayouts ? w : null, bias, packed: null };
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
    // With one layout the lookup gathers columns of wT instead, one copy of a (possibly 2 GB) matrix instead of two.
    embedTable = twoLayouts ? emb.map(keep) : null;
  } else {
    embedTable = emb.map(keep);
    headW = blocksOf(read('lm_head.weight', [V, H]));
    if (twoLayouts) headW.forEach(keep);
  }
  const head: LmHead = {
    inFeatures: H,
    outFeatures: V,
    starts,
    blocks: headW.map((w, i) => ({ inFeatures: H, outFeatures: sizes[i]!, wT: keep(tf.transpose(w)), w: twoLayouts ? w : null, bias: null, packed: null })),
  };
  if (!twoLayouts) tf.dispose(headW.filter((w) => !embedTable?.includes(w)));
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
    baseWeights,
    dispose: () => tf.dispose(owned),
  };
}
