import * as tf from '@tensorflow/tfjs';
import type { LoraHook } from '../model/llama.js';
import type { TargetModule } from '../model/load.js';
import { Rng, mixSeed } from './rng.js';
import { MODULE_ORDER, loraScale, type LoraEntry, type LoraWeights } from './lora-weights.js';

let nextId = 0;

/**
 * The adapter on the TensorFlow.js side: one tf.Variable per A and B (same order as LoraWeights.entries, A then
 * B), and the LoraHook the forward pass calls. PEFT's math: delta = scale · (dropout(x) · A) · B, with A [in, r]
 * and B [r, out] so both products are plain matMuls; the backward pass (customGrad) also avoids the transposed
 * matMuls that wasm runs ~10x slower, by transposing only the small r-sized operands.
 */
export class LoraRuntime {
  readonly weights: LoraWeights;
  readonly variables: tf.Variable[];
  private readonly index = new Map<string, number>();
  private readonly scale: number;

  constructor(weights: LoraWeights) {
    this.weights = weights;
    const id = nextId++;
    const r = weights.spec.r;
    this.variables = weights.entries.flatMap((e, i) => {
      this.index.set(`${e.layer}:${e.module}`, i);
      return [
        tf.variable(tf.tensor2d(e.a, [e.inFeatures, r]), true, `lora${id}.${e.layer}.${e.module}.A`),
        tf.variable(tf.tensor2d(e.b, [r, e.outFeatures]), true, `lora${id}.${e.layer}.${e.module}.B`),
      ];
    });
    this.scale = loraScale(weights.spec);
  }

  /**
   * delta = scale · ((x ⊙ mask) · A) · B as one differentiable op. Only x and the rank-r product are kept for the
   * backward pass: the dropout mask is drawn again from its seed there instead of being stored (it is as large as
   * x), and every temporary is freed at once rather than at the end of the forward pass.
   */
  private op(x: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, dropout: { p: number; seed: number } | null): tf.Tensor2D {
    const scale = this.scale;
    const masked = (t: tf.Tensor2D): tf.Tensor2D => {
      if (!dropout) return t;
      const mask = dropoutMask(t.shape, dropout.p, dropout.seed);
      const out = tf.mul(t, mask) as tf.Tensor2D;
      mask.dispose();
      return out;
    };
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x0, a0, b0, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      const xd = masked(x0);
      const h = tf.matMul(xd, a0);
      if (xd !== x0) xd.dispose();
      const hs = tf.mul(h, scale) as tf.Tensor2D;
      h.dispose();
      save([x0, a0, b0, hs]);
      return {
        value: tf.matMul(hs, b0),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sa, sb, shs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
          const g = dy as tf.Tensor2D;
          // Plain matMuls on transposed r-sized operands: wasm runs transposeA/transposeB matMuls ~10x slower.
          const dB = tf.matMul(tf.transpose(shs), g); // [r, N]·[N, out]
          const dh = tf.mul(tf.matMul(g, tf.transpose(sb)), scale) as tf.Tensor2D; // [N, out]·[out, r]
          const xd2 = masked(sx);
          const dA = tf.transpose(tf.matMul(tf.transpose(dh), xd2)); // ([r, N]·[N, in])ᵀ
          const dx = masked(tf.matMul(dh, tf.transpose(sa))); // ([N, r]·[r, in]) ⊙ mask
          return [dx, dA, dB];
        },
      };
    });
    return f(x, a, b) as tf.Tensor2D;
  }

  /** The variables of one entry. */
  entryVariables(i: number): { a: tf.Variable; b: tf.Variable } {
    return { a: this.variables[2 * i] as tf.Variable, b: this.variables[2 * i + 1] as tf.Variable };
  }

  /** Replaces the adapter's values (same order as the variables). */
  assign(values: readonly Float32Array[]): void {
    if (values.length !== this.variables.length) throw new TypeError(`LoraRuntime.assign: expected ${this.variables.length} arrays, got ${values.length}`);
    this.variables.forEach((v, i) => {
      const t = tf.tensor(values[i] as Float32Array, v.shape);
      v.assign(t);
      t.dispose();
    });
  }

  /**
   * The hook for one forward pass. With `dropoutSeed`, inputs are dropped with probability p (kept ones scaled by
   * 1/(1−p), as torch.nn.Dropout in training mode); the mask is a function of (seed, layer, module) alone, so a
   * resumed run or another worker draws the same masks. Without it (evaluation, inference) there is no dropout.
   */
  hook(opts: { dropoutSeed?: number } = {}): LoraHook {
    const p = this.weights.spec.dropout;
    const seed = opts.dropoutSeed;
    return (layer: number, module: TargetModule, x: tf.Tensor2D): tf.Tensor2D | null => {
      const i = this.index.get(`${layer}:${module}`);
      if (i === undefined) return null;
      const { a, b } = this.entryVariables(i);
      const dropout = seed !== undefined && p > 0 ? { p, seed: mixSeed(seed, layer, MODULE_ORDER.indexOf(module as LoraEntry['module'])) } : null;
      return this.op(x, a as tf.Variable<tf.Rank.R2>, b as tf.Variable<tf.Rank.R2>, dropout);
    };
  }

  /** Current values read back from the backend, in variable order. */
  read(): Float32Array[] {
    return this.variables.map((v) => v.dataSync() as Float32Array).map((d) => new Float32Array(d));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/**
 * Inverted-dropout mask (0 or 1/(1−p)) drawn in JavaScript: tf.randomUniform on wasm costs ~20 ms for a
 * 1024×576 mask, this a few, and its seed makes it reproducible across runs, resumes and workers. The mask is
 * drawn again in the backward pass, so this runs twice per adapted module and pass: sfc32 is inlined and each
 * 32-bit draw decides two elements (16 bits each: p is honoured to 1/65536).
 */
export function dropoutMask(shape: [number, number], p: number, seed: number): tf.Tensor2D {
  const n = shape[0] * shape[1];
  const data = new Float32Array(n);
  const keep = 1 / (1 - p);
  const threshold = Math.round(p * 65536);
  let [a, b, c, d] = new Rng(seed).state();
  for (let i = 0; i < n; i += 2) {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    data[i] = (t & 0xffff) >= threshold ? keep : 0;
    if (i + 1 < n) data[i + 1] = t >>> 16 >= threshold ? keep : 0;
  }
  return tf.tensor2d(data, shape);
}
