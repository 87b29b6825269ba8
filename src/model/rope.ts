import type { ModelConfig } from './config.js';

/** Rotary embedding frequencies, following transformers' modeling_rope_utils for each `rope_type`. */
export interface Rope {
  /** One inverse frequency per pair of dimensions (headDim / 2 values), float32 as transformers keeps them. */
  invFreq: Float32Array;
  /** YaRN scales cos/sin by this; 1 otherwise. */
  attentionScaling: number;
  headDim: number;
}

export function buildRope(config: ModelConfig): Rope {
  const dim = config.headDim;
  const base = config.ropeTheta;
  const half = dim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / base ** ((2 * i) / dim);
  const s = config.ropeScaling;
  let attentionScaling = 1;
  switch (s.type) {
    case 'default':
      break;
    case 'linear':
      for (let i = 0; i < half; i++) inv[i] = inv[i]! / s.factor;
      break;
    case 'llama3': {
      const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      for (let i = 0; i < half; i++) {
        const f = inv[i]!;
        const wavelen = (2 * Math.PI) / f;
        if (wavelen > lowWavelen) inv[i] = f / s.factor;
        else if (wavelen >= highWavelen) {
          const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
          inv[i] = ((1 - smooth) * f) / s.factor + smooth * f;
        }
      }
      break;
    }
    case 'yarn': {
      const mscale = (scale: number) => (scale <= 1 ? 1 : 0.1 * Math.log(scale) + 1);
      attentionScaling = s.attentionFactor ?? mscale(s.factor);
      const corrDim = (rot: number) => (dim * Math.log(s.originalMaxPositionEmbeddings / (rot * 2 * Math.PI))) / (2 * Math.log(base));
      const low = Math.max(Math.floor(corrDim(s.betaFast)), 0);
      let high = Math.min(Math.ceil(corrDim(s.betaSlow)), dim - 1);
      if (low === high) high += 0.001;
      for (let i = 0; i < half; i++) {
        const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
        const extrapolation = 1 - ramp;
        const f = inv[i]!;
        inv[i] = (f / s.factor) * (1 - extrapolation) + f * extrapolation;
      }
      break;
    }
  }
  return { invFreq: Float32Array.from(inv), attentionScaling, headDim: dim };
}

/**
 * cos/sin tables [count, headDim] for positions start…start+count-1, laid out as transformers' cat(freqs, freqs).
 * The angle is rounded to float32 first, as transformers computes it in float32, so long positions match it too.
 * `sinSigned` carries rotate_half's sign: x·cos + swapHalves(x)·sinSigned == x·cos + rotate_half(x)·sin.
 */
export function ropeTables(rope: Rope, start: number, count: number): { cos: Float32Array; sinSigned: Float32Array } {
  const dim = rope.headDim;
  const half = dim / 2;
  const cos = new Float32Array(count * dim);
  const sinSigned = new Float32Array(count * dim);
  const a = rope.attentionScaling;
  for (let t = 0; t < count; t++) {
    const pos = start + t;
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(rope.invFreq[i]! * pos);
      const c = Math.cos(angle) * a;
      const s = Math.sin(angle) * a;
      cos[t * dim + i] = c;
      cos[t * dim + half + i] = c;
      sinSigned[t * dim + i] = -s;
      sinSigned[t * dim + half + i] = s;
    }
  }
  return { cos, sinSigned };
}
