import type { BackendInfo, GpuLimits } from '../../model/backend.js';
import type { ModelConfig } from '../../model/config.js';
import type { TargetModuleName } from '../../config/train.js';
import { formatBytes, planMemory, projectionFeatures, trainingPassTokens } from './plan.js';
import type { BaseWeights } from '../../model/base-weights.js';
import { bindingLimit } from '../../model/binding-limit.js';

/**
 * What a LoRA run needs on a WebGPU device: one layout of each frozen weight, its projections in --base-weights
 * (bf16 and int8 packed into int32 words, widened one matrix at a time), LoRA, optimizer and activations in
 * float32. Two limits matter: every tensor is one GPU buffer, so none may exceed the adapter's
 * maxStorageBufferBindingSize (nor maxBufferSize), and everything alive at once must fit the device's memory,
 * which WebGPU does not report (hence --gpu-memory).
 */
export interface DevicePlan {
  limits: GpuLimits;
  /** bytes of device memory the user gave, or null (WebGPU does not tell) */
  gpuMemory: number | null;
  baseWeights: BaseWeights;
  /** whether the pass keeps only layer inputs and rebuilds each layer in the backward pass */
  gradientCheckpointing: boolean;
  /** frozen weights (one layout), the widened matrix, LoRA parameters, their gradient accumulators, AdamW m and v */
  fixedBytes: number;
  /** activations of one pass of `passSequences` sequences */
  activationBytes: number;
  totalBytes: number;
  /** null when gpuMemory is unknown */
  fitsMemory: boolean | null;
  largestWeight: { name: string; bytes: number };
  /** at the configured micro-batch, in one pass */
  largestActivation: { name: string; bytes: number };
  /** the weight must fit the binding limit; an activation over it only forces smaller passes */
  weightFitsBinding: boolean;
  microBatchSize: number;
  cutoffLen: number;
  /** sequences per forward/backward pass the trainer will use (≤ micro-batch size; 0: not even one fits) */
  passSequences: number;
  /** the largest micro-batch that would still run as one pass */
  largestMicroBatch: number;
}

interface PlanOpts {
  r: number;
  targetModules: readonly TargetModuleName[];
  microBatchSize: number;
  cutoffLen: number;
  limits: GpuLimits;
  gpuMemory?: number | null;
  /** Defaults to 'f32'. */
  baseWeights?: BaseWeights;
  /** 'auto' (the default) turns it on when one sequence's activations outweigh the fixed memory, or only it fits. */
  gradientCheckpointing?: boolean | 'auto';
}

// The loss head computes logits at most this many values at a time (src/model/loss.ts, LOGIT_CHUNK_VALUES).
const LOGIT_CHUNK_VALUES = 4 * 1024 * 1024;
// Headroom for the allocator, kernels' scratch and tfjs's buffer pool.
const MEMORY_SHARE = 0.9;

function largestWeight(c: ModelConfig): { name: string; bytes: number } {
  const candidates: Array<{ name: string; bytes: number }> = [{ name: `embeddings [${c.vocabSize}, ${c.hiddenSize}]`, bytes: 4 * c.vocabSize * c.hiddenSize }];
  for (const m of ['q_proj', 'k_proj', 'o_proj', 'gate_proj', 'down_proj'] as const) {
    const { inFeatures, outFeatures } = projectionFeatures(c, m);
    candidates.push({ name: `${m} [${outFeatures}, ${inFeatures}]`, bytes: 4 * inFeatures * outFeatures });
  }
  return candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/** The largest single tensor of a pass of `k` sequences of `T` tokens. */
function largestActivation(c: ModelConfig, k: number, T: number): { name: string; bytes: number } {
  const N = k * T;
  const candidates = [
    // batched attention on GPU backends: one [B·KV, rep·T, S] score tensor per layer
    { name: `attention scores [${k}, ${c.numHeads}, ${T}, ${T}]`, bytes: 4 * k * c.numHeads * T * T },
    { name: `MLP activations [${N}, ${c.intermediateSize}]`, bytes: 4 * N * c.intermediateSize },
    { name: `logits chunk [${Math.min(N, Math.max(1, Math.floor(LOGIT_CHUNK_VALUES / c.vocabSize)))}, ${c.vocabSize}]`, bytes: 4 * Math.min(N * c.vocabSize, Math.max(c.vocabSize, LOGIT_CHUNK_VALUES)) },
  ];
  return candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

export function planDevice(c: ModelConfig, opts: PlanOpts): DevicePlan {
  const T = opts.cutoffLen;
  const binding = bindingLimit(opts.limits);
  const gpuMemory = opts.gpuMemory ?? null;
  const baseWeights = opts.baseWeights ?? 'f32';
  const memory = (gradientCheckpointing: boolean) => {
    const base = planMemory(c, { r: opts.r, targetModules: opts.targetModules, microBatchSize: 1, cutoffLen: T, baseWeights, layouts: 1, gradientCheckpointing });
    // LoRA values, the gradient accumulators, one pass's gradients and AdamW's m and v (DeviceStepper).
    return { fixed: base.lora.weights + base.lora.widened + 2 * base.lora.loraParams + base.lora.gradients + base.lora.optimizer, perSequence: base.lora.activations };
  };
  const gradientCheckpointing = opts.gradientCheckpointing === undefined || opts.gradientCheckpointing === 'auto' ? checkpointingNeeded(memory(false), opts.microBatchSize, gpuMemory) : opts.gradientCheckpointing;
  const { fixed: fixedBytes, perSequence } = memory(gradientCheckpointing);
  const fits = (k: number) => largestActivation(c, k, T).bytes <= binding && (gpuMemory === null || fixedBytes + k * perSequence <= MEMORY_SHARE * gpuMemory);
  let largest = 0;
  // Doubling then bisecting: the constraints grow monotonically with k.
  let hi = 1;
  while (fits(hi) && hi < 1 << 16) hi *= 2;
  let lo = fits(1) ? 1 : 0;
  if (lo) {
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
    largest = lo;
  }
  const passSequences = Math.min(opts.microBatchSize, largest);
  const activationBytes = Math.max(passSequences, 1) * perSequence;
  const totalBytes = fixedBytes + activationBytes;
  const weight = largestWeight(c);
  return {
    limits: opts.limits,
    gpuMemory,
    baseWeights,
    gradientCheckpointing,
    fixedBytes,
    activationBytes,
    totalBytes,
    fitsMemory: gpuMemory === null ? null : totalBytes <= MEMORY_SHARE * gpuMemory,
    largestWeight: weight,
    largestActivation: largestActivation(c, opts.microBatchSize, T),
    weightFitsBinding: weight.bytes <= binding,
    microBatchSize: opts.microBatchSize,
    cutoffLen: T,
    passSequences,
    largestMicroBatch: largest,
  };
}

/**
 * Checkpointing costs about one more forward pass per step; it pays when activations, not weights, decide the
 * memory: when one sequence's activations outweigh everything else, or the micro-batch would not fit without it.
 */
function checkpointingNeeded(m: { fixed: number; perSequence: number }, microBatch: number, gpuMemory: number | null): boolean {
  if (m.perSequence > m.fixed) return true;
  return gpuMemory !== null && m.fixed + microBatch * m.perSequence > MEMORY_SHARE * gpuMemory;
}

/** Padded tokens per forward/backward pass on a WebGPU device: whole sequences, as many as the limits allow. */
export function devicePassTokens(c: ModelConfig, opts: Omit<PlanOpts, 'microBatchSize' | 'cutoffLen'> & { seqLen: number }): number {
  const p = planDevice(c, { ...opts, microBatchSize: Number.MAX_SAFE_INTEGER, cutoffLen: opts.seqLen });
  return Math.max(1, p.largestMicroBatch) * opts.seqLen;
}

/**
 * Padded tokens per forward/backward pass for the running backend: wasm's heap budget, a WebGPU adapter's limits,
 * or no split at all (libtensorflow); whether the passes use gradient checkpointing ('auto': where the device
 * plan says activations dominate; off on CPU backends, whose passes are sized to the heap instead). Warnings say
 * what will probably not fit.
 */
export function passTokensFor(
  c: ModelConfig,
  backend: BackendInfo,
  opts: { r: number; targetModules: readonly TargetModuleName[]; seqLen: number; baseWeights?: BaseWeights; gradientCheckpointing?: 'auto' | 'on' | 'off' },
): { maxPassTokens: number; gradientCheckpointing: boolean; warnings: string[] } {
  const setting = opts.gradientCheckpointing ?? 'auto';
  const { r, targetModules, seqLen } = opts;
  const baseWeights = opts.baseWeights ?? 'f32';
  if (backend.name !== 'webgpu' || !backend.limits) return { maxPassTokens: trainingPassTokens(c, { backend: backend.name, r, targetModules, seqLen }), gradientCheckpointing: setting === 'on', warnings: [] };
  const checkpointing = setting === 'auto' ? 'auto' : setting === 'on';
  const p = planDevice(c, { r, targetModules, microBatchSize: 1, cutoffLen: seqLen, limits: backend.limits, baseWeights, gradientCheckpointing: checkpointing });
  const warnings: string[] = [];
  const limit = formatBytes(bindingLimit(backend.limits));
  if (!p.weightFitsBinding) warnings.push(`the model's ${p.largestWeight.name} is ${formatBytes(p.largestWeight.bytes)} in float32, above this WebGPU adapter's ${limit} buffer binding limit: it probably cannot be uploaded (use a smaller model or --backend wasm)`);
  if (p.largestMicroBatch === 0) warnings.push(`one ${seqLen}-token sequence needs a ${formatBytes(p.largestActivation.bytes)} tensor (${p.largestActivation.name}), above the adapter's ${limit} binding limit: lower --cutoff-len`);
  return { maxPassTokens: devicePassTokens(c, { r, targetModules, seqLen, limits: backend.limits, baseWeights, gradientCheckpointing: p.gradientCheckpointing }), gradientCheckpointing: p.gradientCheckpointing, warnings };
}

export function formatDevicePlan(p: DevicePlan, device: string): string[] {
  const binding = bindingLimit(p.limits);
  const mem =
    p.gpuMemory === null
      ? 'device memory unknown (WebGPU does not report it): pass --gpu-memory SIZE to check the fit'
      : `${p.fitsMemory ? 'fits' : 'does NOT fit'} in ${formatBytes(p.gpuMemory)} of device memory (${Math.round(MEMORY_SHARE * 100)}% usable)`;
  const passes = Math.ceil(p.microBatchSize / Math.max(1, p.passSequences));
  return [
    `on the device (${device}; ${p.baseWeights === 'f32' ? 'float32' : p.baseWeights} base weights, one layout; gradient checkpointing ${p.gradientCheckpointing ? 'on' : 'off'}):`,
    `  limits: maxStorageBufferBindingSize ${formatBytes(p.limits.maxStorageBufferBindingSize)}, maxBufferSize ${formatBytes(p.limits.maxBufferSize)}`,
    `  frozen weights, LoRA, gradients and AdamW state  ${formatBytes(p.fixedBytes)}`,
    `  activations of one pass (${Math.max(1, p.passSequences)} × ${p.cutoffLen} tokens)  ${formatBytes(p.activationBytes)}`,
    `  total ${formatBytes(p.totalBytes)}: ${mem}`,
    `  largest weight: ${p.largestWeight.name} ${formatBytes(p.largestWeight.bytes)} vs binding limit ${formatBytes(binding)}: ${p.weightFitsBinding ? 'ok' : 'TOO LARGE'}`,
    `  largest activation at micro-batch ${p.microBatchSize}: ${p.largestActivation.name} ${formatBytes(p.largestActivation.bytes)}${p.largestActivation.bytes > binding ? ' (over the limit: split into passes)' : ''}`,
    p.passSequences === 0
      ? `  micro-batch: not even one ${p.cutoffLen}-token sequence fits the limits; lower --cutoff-len`
      : `  micro-batch ${p.microBatchSize}: ${passes === 1 ? 'one pass' : `${passes} passes of ${p.passSequences} sequences`}; the largest micro-batch that runs as one pass is ${p.largestMicroBatch}`,
  ];
}
