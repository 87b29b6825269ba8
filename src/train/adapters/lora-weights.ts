import { Rng, mixSeed } from '../rng.js';
import type { TargetModuleName } from '../../config/train.js';

/** Canonical module order; parameters (and so AdamW state slots) follow it within each layer. */
export const MODULE_ORDER: readonly TargetModuleName[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export interface LoraSpec {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: TargetModuleName[];
  useRslora: boolean;
}

/**
 * One adapted projection. A and B are kept in the layout the fast (non-transposed) matMul wants, A as [in, r] and
 * B as [r, out]; PEFT files hold the transposes ([r, in] and [out, r]) and are converted on save/load.
 */
export interface LoraEntry {
  layer: number;
  module: TargetModuleName;
  inFeatures: number;
  outFeatures: number;
  a: Float32Array;
  b: Float32Array;
}

export interface LoraWeights {
  spec: LoraSpec;
  entries: LoraEntry[];
}

/** PEFT: scaling = alpha / r, or alpha / sqrt(r) with use_rslora. */
export function loraScale(spec: Pick<LoraSpec, 'r' | 'alpha' | 'useRslora'>): number {
  return spec.useRslora ? spec.alpha / Math.sqrt(spec.r) : spec.alpha / spec.r;
}

export function sortModules(modules: readonly TargetModuleName[]): TargetModuleName[] {
  return MODULE_ORDER.filter((m) => modules.includes(m));
}

/**
 * Fresh adapter weights. PEFT initialises A with kaiming_uniform_(a=√5), i.e. U(±1/√in_features), and B with zeros,
 * so the adapted model starts out identical to the base.
 */
export function initLoraWeights(
  spec: LoraSpec,
  shapes: { layers: number; features(layer: number, module: TargetModuleName): { inFeatures: number; outFeatures: number } },
  seed: number,
): LoraWeights {
  const rng = new Rng(mixSeed(seed, 0x10a));
  const entries: LoraEntry[] = [];
  for (let layer = 0; layer < shapes.layers; layer++) {
    for (const module of sortModules(spec.targetModules)) {
      const { inFeatures, outFeatures } = shapes.features(layer, module);
      const bound = 1 / Math.sqrt(inFeatures);
      const a = new Float32Array(inFeatures * spec.r);
      for (let i = 0; i < a.length; i++) a[i] = (rng.next() * 2 - 1) * bound;
      entries.push({ layer, module, inFeatures, outFeatures, a, b: new Float32Array(spec.r * outFeatures) });
    }
  }
  return { spec: { ...spec, targetModules: sortModules(spec.targetModules) }, entries };
}

/** The trainable tensors in their fixed order: for each entry, A then B. */
export function flatParams(w: LoraWeights): Float32Array[] {
  return w.entries.flatMap((e) => [e.a, e.b]);
}

export function trainableParamCount(w: LoraWeights): number {
  return w.entries.reduce((n, e) => n + e.a.length + e.b.length, 0);
}

export function cloneWeights(w: LoraWeights): LoraWeights {
  return { spec: { ...w.spec, targetModules: [...w.spec.targetModules] }, entries: w.entries.map((e) => ({ ...e, a: e.a.slice(), b: e.b.slice() })) };
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j] as number;
  return out;
}

const ATTENTION = new Set<TargetModuleName>(['q_proj', 'k_proj', 'v_proj', 'o_proj']);

/** The Hugging Face module path of a projection, e.g. `model.layers.3.self_attn.q_proj`. */
export function modulePath(layer: number, module: TargetModuleName): string {
  return `model.layers.${layer}.${ATTENTION.has(module) ? 'self_attn' : 'mlp'}.${module}`;
}

/** PEFT's saved key (adapter name stripped): `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight`. */
export function peftKey(layer: number, module: TargetModuleName, which: 'A' | 'B'): string {
  return `base_model.model.${modulePath(layer, module)}.lora_${which}.weight`;
}

/** ΔW = scale·B·A in Hugging Face layout [out, in], computed from our [in, r] / [r, out] layouts. */
export function deltaWeight(e: LoraEntry, r: number, scale: number): Float32Array {
  const { inFeatures: n, outFeatures: m, a, b } = e;
  const out = new Float32Array(m * n);
  // out[o, i] = scale · Σ_k b[k, o] · a[i, k]
  const bCol = new Float64Array(r);
  for (let o = 0; o < m; o++) {
    for (let k = 0; k < r; k++) bCol[k] = scale * (b[k * m + o] as number);
    const row = o * n;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const ai = i * r;
      for (let k = 0; k < r; k++) s += (bCol[k] as number) * (a[ai + k] as number);
      out[row + i] = s;
    }
  }
  return out;
}
