import * as tf from '@tensorflow/tfjs';
import type { LoraHook } from '../../model/llama.js';
import type { TargetModule } from '../../model/load.js';
import { dropoutMaskTensor } from './dropout-mask.js';
import { mixSeed } from '../rng.js';
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
   * backward pass, and every temporary is freed at once rather than at the end of the forward pass. Per backend:
   * on CPU backends (wasm, cpu) the mask is drawn in JavaScript and drawn again in the backward pass (it is as
   * large as x; wasm's heap is the scarce thing), and the backward matMuls are plain ones on explicitly transposed
   * r-sized operands (wasm runs transposeA/transposeB matMuls ~10x slower). On GPU backends the mask is drawn
   * once (by one kernel on webgpu) and kept for the backward pass (memory is plentiful, launches are not), and
   * the backward pass uses transposed matMuls directly (no extra transpose kernels).
   */
  private op(x: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, dropout: { p: number; seed: number } | null): tf.Tensor2D {
    const scale = this.scale;
    const onCpu = cpuBackend();
    const drawMask = (shape: [number, number]): tf.Tensor2D => dropoutMaskTensor(shape, (dropout as { p: number }).p, (dropout as { seed: number }).seed);
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x0, a0, b0, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
      const mask = dropout ? drawMask(x0.shape) : null;
      const xd = mask ? (tf.mul(x0, mask) as tf.Tensor2D) : x0;
      const h = tf.matMul(xd, a0);
      if (xd !== x0) xd.dispose();
      const hs = tf.mul(h, scale) as tf.Tensor2D;
      h.dispose();
      const keptMask = mask && !onCpu ? [mask] : [];
      if (mask && onCpu) mask.dispose();
      save([x0, a0, b0, hs, ...keptMask]);
      return {
        value: tf.matMul(hs, b0),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sa, sb, shs, smask] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D | undefined];
          const g = dy as tf.Tensor2D;
          const m = dropout ? (smask ?? drawMask(sx.shape)) : null;
          const xd2 = m ? (tf.mul(sx, m) as tf.Tensor2D) : sx;
          if (!onCpu) {
            const dB = tf.matMul(shs, g, true, false); // [N, r]ᵀ·[N, out]
            const dh = tf.mul(tf.matMul(g, sb, false, true), scale) as tf.Tensor2D; // [N, out]·[r, out]ᵀ
            const dA = tf.matMul(xd2, dh, true, false); // [N, in]ᵀ·[N, r]
            const dxd = tf.matMul(dh, sa, false, true); // [N, r]·[in, r]ᵀ
            return [m ? tf.mul(dxd, m) : dxd, dA, dB];
          }
          const dB = tf.matMul(tf.transpose(shs), g); // [r, N]·[N, out]
          const dh = tf.mul(tf.matMul(g, tf.transpose(sb)), scale) as tf.Tensor2D; // [N, out]·[out, r]
          const dA = tf.transpose(tf.matMul(tf.transpose(dh), xd2)); // ([r, N]·[N, in])ᵀ
          const dxd = tf.matMul(dh, tf.transpose(sa)); // [N, r]·[r, in]
          return [m ? tf.mul(dxd, m) : dxd, dA, dB];
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
    const hook = (layer: number, module: TargetModule, x: tf.Tensor2D): tf.Tensor2D | null => {
      const i = this.index.get(`${layer}:${module}`);
      if (i === undefined) return null;
      const { a, b } = this.entryVariables(i);
      const dropout = seed !== undefined && p > 0 ? { p, seed: mixSeed(seed, layer, MODULE_ORDER.indexOf(module as LoraEntry['module'])) } : null;
      return this.op(x, a as tf.Variable<tf.Rank.R2>, b as tf.Variable<tf.Rank.R2>, dropout);
    };
    const layerTensors = (layer: number): tf.Tensor[] =>
      this.weights.entries.flatMap((e, i) => {
        if (e.layer !== layer) return [];
        const { a, b } = this.entryVariables(i);
        return [a, b];
      });
    return Object.assign(hook, { layerTensors });
  }

  /** Current values read back from the backend, in variable order (asynchronously: GPU backends cannot read synchronously). */
  async read(): Promise<Float32Array[]> {
    return Promise.all(this.variables.map(async (v) => new Float32Array((await v.data()) as Float32Array)));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** An inverted-dropout mask (0 or 1/(1−p)) of `shape`, the one the LoRA op applies for `seed`. */
export const dropoutMask = dropoutMaskTensor;

/** CPU backends: where JavaScript-side work is cheap next to kernels, and memory is the wasm heap. */
export const isCpuBackendName = (name: string): boolean => name === 'wasm' || name === 'cpu';
const cpuBackend = (): boolean => isCpuBackendName(tf.getBackend());
