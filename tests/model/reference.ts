/**
 * A naive float64 LLaMA-family forward pass in plain loops, written from transformers' modeling_llama /
 * modeling_qwen2 / modeling_qwen3 and modeling_rope_utils, independently of src/model. Tests compare the
 * TensorFlow.js runtime against it. One unpadded sequence, no cache: the simplest possible reading of the math.
 */
import type { TinyModelInfo } from '../helpers/tiny-model.js';

type Mat = Float64Array; // row-major

function w(info: TinyModelInfo, name: string): Float32Array {
  const t = info.weights[name];
  if (!t) throw new Error(`reference: no weight ${name}`);
  return t.data;
}

/** y[n, out] = x[n, in] · W[out, in]ᵀ (+ b) — nn.Linear. */
function linear(x: Mat, n: number, inF: number, W: Float32Array, outF: number, b?: Float32Array): Mat {
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i]! * W[o * inF + i]!;
      y[r * outF + o] = s;
    }
  }
  return y;
}

/** RMSNorm over consecutive groups of `dim` values. */
function rmsNorm(x: Mat, dim: number, weight: Float32Array, eps: number): Mat {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i]! * inv * weight[i]!;
  }
  return y;
}

/** inv_freq per modeling_rope_utils, plus YaRN's attention factor. */
function inverseFrequencies(cfg: Record<string, unknown>, dim: number): { inv: number[]; scaling: number } {
  const params = (cfg['rope_parameters'] ?? cfg['rope_scaling'] ?? null) as Record<string, number | string> | null;
  const base = ((cfg['rope_parameters'] as Record<string, number> | undefined)?.['rope_theta'] ?? cfg['rope_theta'] ?? 10000) as number;
  const type = (params?.['rope_type'] ?? params?.['type'] ?? 'default') as string;
  const inv: number[] = [];
  for (let i = 0; i < dim; i += 2) inv.push(1 / Math.pow(base, i / dim));
  if (type === 'linear') return { inv: inv.map((f) => f / (params!['factor'] as number)), scaling: 1 };
  if (type === 'llama3') {
    const factor = params!['factor'] as number;
    const lo = params!['low_freq_factor'] as number;
    const hi = params!['high_freq_factor'] as number;
    const old = params!['original_max_position_embeddings'] as number;
    return {
      inv: inv.map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < old / hi) return f;
        if (wavelen > old / lo) return f / factor;
        const smooth = (old / wavelen - lo) / (hi - lo);
        return (1 - smooth) * (f / factor) + smooth * f;
      }),
      scaling: 1,
    };
  }
  if (type === 'yarn') {
    const factor = params!['factor'] as number;
    const old = (params!['original_max_position_embeddings'] ?? cfg['max_position_embeddings']) as number;
    const correction = (rot: number) => (dim * Math.log(old / (rot * 2 * Math.PI))) / (2 * Math.log(base));
    const low = Math.max(0, Math.floor(correction((params!['beta_fast'] as number) ?? 32)));
    const high = Math.min(dim - 1, Math.ceil(correction((params!['beta_slow'] as number) ?? 1)));
    return {
      inv: inv.map((f, i) => {
        const ramp = Math.min(1, Math.max(0, (i - low) / (high === low ? 0.001 : high - low)));
        const extrapolationFactor = 1 - ramp;
        return (f / factor) * (1 - extrapolationFactor) + f * extrapolationFactor;
      }),
      scaling: (params!['attention_factor'] as number | undefined) ?? 0.1 * Math.log(factor) + 1,
    };
  }
  return { inv, scaling: 1 };
}

/**
 * PEFT prompt-learning inputs: `embeddings` [P·H] are rows placed before the tokens (prompt tuning, P-tuning);
 * `prefix` holds per layer keys and values [KV][P][hd] (flat) that every position attends to, unrotated, with the
 * tokens' positions starting at P (prefix tuning).
 */
export interface ReferenceVirtual {
  embeddings?: ArrayLike<number>;
  prefix?: Array<{ k: ArrayLike<number>; v: ArrayLike<number> }>;
  count: number;
}

/** Logits [T][V] of one sequence ([P + T][V] with virtual embeddings). */
export function referenceLogits(info: TinyModelInfo, ids: number[], virtual?: ReferenceVirtual): Float64Array[] {
  const cfg = info.config;
  const H = info.hidden;
  const nh = info.heads;
  const kv = info.kvHeads;
  const hd = info.headDim;
  const I = info.intermediate;
  const V = info.vocabSize;
  const lead = virtual?.embeddings ? virtual.count : 0;
  const past = virtual?.prefix ? virtual.count : 0;
  const T = lead + ids.length;
  const eps = cfg['rms_norm_eps'] as number;
  const arch = cfg['model_type'] as string;
  const window = arch === 'mistral' ? ((cfg['sliding_window'] as number | null) ?? null) : null;
  const { inv, scaling } = inverseFrequencies(cfg, hd);
  const emb = w(info, 'model.embed_tokens.weight');
  let x = new Float64Array(T * H);
  for (let i = 0; i < lead * H; i++) x[i] = virtual!.embeddings![i]!;
  ids.forEach((id, t) => {
    for (let i = 0; i < H; i++) x[(lead + t) * H + i] = emb[id * H + i]!;
  });
  const bias = (name: string) => info.weights[name]?.data;
  const rope = (v: Mat, heads: number) => {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * hd;
        const rotated = new Float64Array(hd);
        for (let i = 0; i < hd / 2; i++) {
          const a = (past + t) * inv[i]!;
          const c = Math.cos(a) * scaling;
          const s = Math.sin(a) * scaling;
          const x1 = v[o + i]!;
          const x2 = v[o + i + hd / 2]!;
          rotated[i] = x1 * c - x2 * s;
          rotated[i + hd / 2] = x2 * c + x1 * s;
        }
        v.set(rotated, o);
      }
    }
  };
  for (let l = 0; l < info.layers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, H, w(info, `${p}.input_layernorm.weight`), eps);
    let q = linear(h, T, H, w(info, `${p}.self_attn.q_proj.weight`), nh * hd, bias(`${p}.self_attn.q_proj.bias`));
    let k = linear(h, T, H, w(info, `${p}.self_attn.k_proj.weight`), kv * hd, bias(`${p}.self_attn.k_proj.bias`));
    const v = linear(h, T, H, w(info, `${p}.self_attn.v_proj.weight`), kv * hd, bias(`${p}.self_attn.v_proj.bias`));
    if (arch === 'qwen3') {
      q = rmsNorm(q, hd, w(info, `${p}.self_attn.q_norm.weight`), eps);
      k = rmsNorm(k, hd, w(info, `${p}.self_attn.k_norm.weight`), eps);
    }
    rope(q, nh);
    rope(k, kv);
    const ctx = new Float64Array(T * nh * hd);
    const group = nh / kv;
    for (let head = 0; head < nh; head++) {
      const kh = Math.floor(head / group); // repeat_kv: query head h reads KV head h // n_rep
      const pre = virtual?.prefix?.[l];
      // Prefix keys/values of this KV head at prefix position s: [KV][P][hd].
      const preAt = (a: ArrayLike<number>, s: number, i: number) => a[(kh * past + s) * hd + i]!;
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        const preScores: number[] = [];
        for (let s = 0; s < past; s++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[(t * nh + head) * hd + i]! * preAt(pre!.k, s, i);
          preScores.push(dot / Math.sqrt(hd));
        }
        for (let s = 0; s <= t; s++) {
          if (window !== null && t - s >= window) {
            scores.push(-Infinity);
            continue;
          }
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[(t * nh + head) * hd + i]! * k[(s * kv + kh) * hd + i]!;
          scores.push(dot / Math.sqrt(hd));
        }
        const m = Math.max(...scores, ...preScores);
        const e = scores.map((z) => Math.exp(z - m));
        const ePre = preScores.map((z) => Math.exp(z - m));
        const sum = e.reduce((a, b) => a + b, 0) + ePre.reduce((a, b) => a + b, 0);
        for (let s = 0; s < past; s++) {
          const pr = ePre[s]! / sum;
          for (let i = 0; i < hd; i++) ctx[(t * nh + head) * hd + i]! += pr * preAt(pre!.v, s, i);
        }
        for (let s = 0; s <= t; s++) {
          const pr = e[s]! / sum;
          for (let i = 0; i < hd; i++) ctx[(t * nh + head) * hd + i]! += pr * v[(s * kv + kh) * hd + i]!;
        }
      }
    }
    const o = linear(ctx, T, nh * hd, w(info, `${p}.self_attn.o_proj.weight`), H, bias(`${p}.self_attn.o_proj.bias`));
    for (let i = 0; i < x.length; i++) x[i]! += o[i]!;
    const h2 = rmsNorm(x, H, w(info, `${p}.post_attention_layernorm.weight`), eps);
    const g = linear(h2, T, H, w(info, `${p}.mlp.gate_proj.weight`), I);
    const u = linear(h2, T, H, w(info, `${p}.mlp.up_proj.weight`), I);
    const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
    const d = linear(act, T, I, w(info, `${p}.mlp.down_proj.weight`), H);
    x = x.map((xv, i) => xv + d[i]!);
  }
  const final = rmsNorm(x, H, w(info, 'model.norm.weight'), eps);
  const head = info.tied ? emb : w(info, 'lm_head.weight');
  const logits = linear(final, T, H, head, V);
  return Array.from({ length: T }, (_, t) => logits.subarray(t * V, (t + 1) * V));
}

/** −log softmax(logits)[target], in float64. */
export function referenceNll(logits: Float64Array, target: number): number {
  let m = -Infinity;
  for (const z of logits) m = Math.max(m, z);
  let s = 0;
  for (const z of logits) s += Math.exp(z - m);
  return m + Math.log(s) - logits[target]!;
}
