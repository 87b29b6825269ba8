import type { ModelConfig } from '../../model/config.js';
import type { TargetModuleName } from '../../config/train.js';
import { MODULE_ORDER } from '../adapters/lora-weights.js';
import { weightBytes, type BaseWeights } from '../../model/base-weights.js';

/** in/out features of each projection, from config.json alone (no weights needed). */
export function projectionFeatures(c: ModelConfig, module: TargetModuleName): { inFeatures: number; outFeatures: number } {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  switch (module) {
    case 'q_proj':
      return { inFeatures: c.hiddenSize, outFeatures: q };
    case 'k_proj':
    case 'v_proj':
      return { inFeatures: c.hiddenSize, outFeatures: kv };
    case 'o_proj':
      return { inFeatures: q, outFeatures: c.hiddenSize };
    case 'gate_proj':
    case 'up_proj':
      return { inFeatures: c.hiddenSize, outFeatures: c.intermediateSize };
    case 'down_proj':
      return { inFeatures: c.intermediateSize, outFeatures: c.hiddenSize };
  }
}

/** Parameters of the base model as config.json implies them (embeddings, projections with biases, norms, head). */
export function countModelParams(c: ModelConfig): number {
  let layer = 0;
  for (const m of MODULE_ORDER) {
    const { inFeatures, outFeatures } = projectionFeatures(c, m);
    layer += inFeatures * outFeatures;
    const bias = m === 'o_proj' ? c.outputBias : m === 'q_proj' || m === 'k_proj' || m === 'v_proj' ? c.attentionBias : c.mlpBias;
    if (bias) layer += outFeatures;
  }
  layer += 2 * c.hiddenSize + (c.qkNorm ? 2 * c.headDim : 0);
  const embed = c.vocabSize * c.hiddenSize;
  return embed + c.numLayers * layer + c.hiddenSize + (c.tieWordEmbeddings ? 0 : embed);
}

export function countLoraParams(c: ModelConfig, r: number, modules: readonly TargetModuleName[]): number {
  let perLayer = 0;
  for (const m of modules) {
    const { inFeatures, outFeatures } = projectionFeatures(c, m);
    perLayer += r * (inFeatures + outFeatures);
  }
  return c.numLayers * perLayer;
}

/**
 * Bytes of the frozen weights as loadModel keeps them: the projection matrices in `baseWeights` (int8 at its
 * outlier cap), everything else (embeddings, LM head, norms, biases) in float32; `layouts` 2 keeps the float32
 * weights twice (wasm training), plus, for packed weights, the one float32 matrix widened at a time.
 */
export function frozenWeightBytes(c: ModelConfig, baseWeights: BaseWeights, layouts: 1 | 2): { weights: number; widened: number } {
  if (baseWeights === 'f32') return { weights: 4 * layouts * countModelParams(c), widened: 0 };
  let projParams = 0;
  let projBytes = 0;
  let widest = 0;
  for (const m of MODULE_ORDER) {
    const { inFeatures, outFeatures } = projectionFeatures(c, m);
    projParams += inFeatures * outFeatures;
    projBytes += weightBytes(baseWeights, inFeatures, outFeatures);
    widest = Math.max(widest, 4 * inFeatures * outFeatures);
  }
  return { weights: c.numLayers * projBytes + 4 * (countModelParams(c) - c.numLayers * projParams), widened: widest };
}

export interface MemoryOptions {
  r: number;
  targetModules: readonly TargetModuleName[];
  microBatchSize: number;
  cutoffLen: number;
  workers?: number;
  /** Defaults to 'f32'. */
  baseWeights?: BaseWeights;
  /** Float32 layouts kept of each weight (2 on wasm, 1 on GPU backends). Defaults to 2. */
  layouts?: 1 | 2;
  /** Keep only each layer's input and rebuild its internals in the backward pass. Defaults to false. */
  gradientCheckpointing?: boolean;
}

export interface MemoryPlan {
  totalParams: number;
  trainableParams: number;
  trainableShare: number;
  baseWeights: BaseWeights;
  layouts: 1 | 2;
  gradientCheckpointing: boolean;
  /**
   * bytes, for this LoRA run on TensorFlow.js (LoRA, optimizer and activations in float32; `widened`: the one packed
   * matrix widened to float32 at a time, 0 for float32 weights)
   */
  lora: { weights: number; widened: number; loraParams: number; gradients: number; optimizer: number; activations: number; perWorker: number; workers: number; total: number };
  /** bytes, classic full fine-tune estimate with Adam, activations as above */
  fullFp32: { weights: number; gradients: number; optimizer: number; total: number };
  fullFp16: { weights: number; gradients: number; optimizer: number; total: number };
  tokensPerMicroBatch: number;
}

/**
 * Activation memory of one micro-batch as the autodiff tape keeps it: every intermediate of the forward pass
 * stays alive until the backward pass, in float32. Counted per token and layer: RMSNorm input/output (×2 norms),
 * q/k/v before and after RoPE, attention scores, mask and softmax (per head × key position), attention output,
 * o_proj output and residuals, gate/up/SiLU/product of the MLP, and per adapted module its dropout mask, dropped
 * input and the rank-r projection. Plus one chunk of logits (the loss computes them 4M values at a time).
 * An estimate to decide "does it fit", not an exact figure.
 */
export function activationBytes(c: ModelConfig, r: number, modules: readonly TargetModuleName[], microBatch: number, seqLen: number, checkpointing = false): number {
  const h = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  let perTokenLayer = 4 * h + 2 * (q + 2 * kv) + 3 * c.numHeads * seqLen + q + 3 * h + 5 * c.intermediateSize;
  for (const m of modules) perTokenLayer += 2 * projectionFeatures(c, m).inFeatures + r;
  const tokens = microBatch * seqLen;
  // Checkpointing keeps each layer's input [tokens, h] and rebuilds one layer's internals at a time.
  const layers = checkpointing ? tokens * h * c.numLayers + tokens * perTokenLayer : tokens * perTokenLayer * c.numLayers;
  // The loss computes logits in chunks of at most 4M values (logits, softmax, gradient alive at once).
  return 4 * (layers + 3 * Math.min(tokens * c.vocabSize, 4 * 1024 * 1024) + tokens * h * 2);
}

export function planMemory(c: ModelConfig, opts: MemoryOptions): MemoryPlan {
  const totalParams = countModelParams(c);
  const trainableParams = countLoraParams(c, opts.r, opts.targetModules);
  const workers = opts.workers ?? 1;
  const baseWeights = opts.baseWeights ?? 'f32';
  // wasm keeps each float32 matrix twice when training: [in, out] for the forward pass and [out, in] for the
  // backward pass, both plain fast matMuls there; packed weights are always one layout.
  const layouts = baseWeights === 'f32' ? (opts.layouts ?? 2) : 1;
  const checkpointing = opts.gradientCheckpointing ?? false;
  const { weights, widened } = frozenWeightBytes(c, baseWeights, layouts);
  const loraParams = 4 * trainableParams;
  const gradients = 4 * trainableParams;
  const optimizer = 8 * trainableParams;
  const activations = activationBytes(c, opts.r, opts.targetModules, opts.microBatchSize, opts.cutoffLen, checkpointing);
  // Each worker holds its own copy of the frozen weights, the adapter and one micro-batch of activations;
  // gradients and optimizer state live once, in the coordinating thread.
  const perWorker = weights + widened + loraParams + gradients + activations;
  const full = (bytesPerWeight: number) => {
    const w = bytesPerWeight * totalParams;
    const g = bytesPerWeight * totalParams;
    const o = 8 * totalParams;
    return { weights: w, gradients: g, optimizer: o, total: w + g + o + activations };
  };
  return {
    totalParams,
    trainableParams,
    trainableShare: trainableParams / (totalParams + trainableParams),
    baseWeights,
    layouts,
    gradientCheckpointing: checkpointing,
    lora: { weights, widened, loraParams, gradients, optimizer, activations, perWorker, workers, total: workers * perWorker + loraParams + gradients + optimizer },
    fullFp32: full(4),
    fullFp16: full(2),
    tokensPerMicroBatch: opts.microBatchSize * opts.cutoffLen,
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function formatPlan(p: MemoryPlan, header: string): string[] {
  const weightLabel = p.baseWeights === 'f32' ? `fp32 in ${p.layouts} layout${p.layouts === 1 ? '' : 's'}` : `${p.baseWeights} projections, fp32 embeddings and norms`;
  const rows: Array<[string, number]> = [
    [`frozen weights, ${weightLabel}${p.lora.workers > 1 ? ' (per worker)' : ''}`, p.lora.weights],
    ...(p.lora.widened > 0 ? [['one projection widened to fp32 at a time', p.lora.widened] as [string, number]] : []),
    ['LoRA parameters', p.lora.loraParams],
    ['LoRA gradients', p.lora.gradients],
    ['AdamW state (m, v)', p.lora.optimizer],
    [`activations (${p.tokensPerMicroBatch} tokens per micro-batch${p.gradientCheckpointing ? ', gradient checkpointing' : ''})`, p.lora.activations],
    ['total', p.lora.total],
  ];
  const width = Math.max(...rows.map(([l]) => l.length));
  const row = ([label, bytes]: [string, number]) => `  ${label.padEnd(width)}  ${formatBytes(bytes).padStart(9)}`;
  const full = (name: string, f: MemoryPlan['fullFp32'], w: number) =>
    `  ${name}: ${w} B weights + ${w} B grads + 8 B Adam = ${2 * w + 8} B/param: ${formatBytes(f.weights + f.gradients + f.optimizer)}, with activations ${formatBytes(f.total)}`;
  return [
    header,
    `parameters: ${formatCount(p.totalParams)} total, ${formatCount(p.trainableParams)} trainable (${(100 * p.trainableShare).toFixed(4)}%)`,
    '',
    `this LoRA run (TensorFlow.js, base weights ${p.baseWeights}, ${p.lora.workers} worker${p.lora.workers === 1 ? '' : 's'}):`,
    ...rows.map(row),
    '',
    'full fine-tune with Adam, for comparison:',
    full('fp32', p.fullFp32, 4),
    full('fp16', p.fullFp16, 2),
  ];
}

/** wasm32's linear memory ends at 4 GiB; the backend aborts past it. */
const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/**
 * Padded tokens one forward/backward pass may hold on this backend. On wasm the weights and one pass must fit
 * the 4 GiB heap. Measured on SmolLM2-135M (the model's lean training ops, lean backprop): the heap high-water
 * mark is about 2 × the weights' bytes (both layouts, plus XNNPACK's packed copies of them) plus 0.7 × the
 * activation estimate above per token, and passes of 1, 2 and 4 × 256 tokens peaked at 2.6, 3.1 and 4.09 GB.
 * The budget keeps 15% of the heap free. Other backends have no such cap: a micro-batch is one pass.
 */
export function trainingPassTokens(c: ModelConfig, opts: { backend: string; r: number; targetModules: readonly TargetModuleName[]; seqLen: number }): number {
  if (opts.backend !== 'wasm' && opts.backend !== 'native') return Infinity; // native computes in the wasm heap too
  const perToken = (0.7 * activationBytes(c, opts.r, opts.targetModules, 1, opts.seqLen)) / opts.seqLen;
  const free = 0.85 * WASM_HEAP_BYTES - 2 * 8 * countModelParams(c);
  return Math.max(0, Math.floor(free / perToken));
}

/** True when even one sequence of `seqLen` tokens is unlikely to fit wasm's heap next to the weights. */
export function exceedsWasmHeap(c: ModelConfig, opts: { r: number; targetModules: readonly TargetModuleName[]; seqLen: number }): boolean {
  return trainingPassTokens(c, { ...opts, backend: 'wasm' }) < opts.seqLen;
}
