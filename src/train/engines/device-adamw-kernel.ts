import * as tf from '@tensorflow/tfjs';

/**
 * AdamW's three element-wise updates as WGSL kernels for tfjs-backend-webgpu: one dispatch each for m, v and the
 * parameter, with every constant in the dispatch's uniform buffer. Built from tfjs ops the same update was ~12
 * dispatches and ~9 single-number uploads per trainable tensor (measured with bench/gpu-dispatches.ts). The
 * arithmetic is the tfjs-op version's, in the same order and in float32.
 */
export interface AdamWConstants {
  gradScale: number;
  b1: number;
  b2: number;
  eps: number;
  stepSize: number;
  bc2Sqrt: number;
  decay: number;
}

interface WebGpuBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: Array<{ type: string; data: number[] }>): tf.TensorInfo;
}

const BODY = {
  // m' = m·β1 + (g·scale)·(1 − β1)
  m: 'let g = getGByOutputIndex(index) * uniforms.gradScale; setOutputAtIndex(index, getMByOutputIndex(index) * uniforms.b1 + g * uniforms.oneMinusB1);',
  // v' = v·β2 + (g·scale)²·(1 − β2)
  v: 'let g = getGByOutputIndex(index) * uniforms.gradScale; setOutputAtIndex(index, getVByOutputIndex(index) * uniforms.b2 + (g * g) * uniforms.oneMinusB2);',
  // p' = p·decay − (m'·stepSize) / (√v' / √(1 − β2ᵗ) + ε)
  p: 'let denom = sqrt(getVByOutputIndex(index)) / uniforms.bc2Sqrt + uniforms.eps; setOutputAtIndex(index, getPByOutputIndex(index) * uniforms.decay - (getMByOutputIndex(index) * uniforms.stepSize) / denom);',
} as const;

class AdamWProgram {
  readonly outputShape: number[];
  readonly uniforms = 'gradScale : f32, b1 : f32, oneMinusB1 : f32, b2 : f32, oneMinusB2 : f32, eps : f32, stepSize : f32, bc2Sqrt : f32, decay : f32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly variableNames: string[];
  dispatch: [number, number, number];

  constructor(
    n: number,
    private readonly part: keyof typeof BODY,
  ) {
    this.outputShape = [n];
    this.dispatch = [Math.ceil(n / 64), 1, 1];
    this.shaderKey = `alpacaForgeAdamW_${part}`;
    this.variableNames = part === 'p' ? ['p', 'm', 'v'] : part === 'm' ? ['m', 'g'] : ['v', 'g'];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${BODY[this.part]}
        }
      }
    `;
  }
}

/** m', v' and p' of one tensor on the webgpu backend (three dispatches); the caller assigns them. */
export function adamWKernels(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, c: AdamWConstants): { m: tf.Tensor; v: tf.Tensor; p: tf.Tensor } {
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const uniforms = [c.gradScale, c.b1, 1 - c.b1, c.b2, 1 - c.b2, c.eps, c.stepSize, c.bc2Sqrt, c.decay].map((x) => ({ type: 'float32', data: [x] }));
  const n = p.size;
  const flat = (t: tf.Tensor) => tf.reshape(t, [n]);
  const run = (part: keyof typeof BODY, inputs: tf.Tensor[]): tf.Tensor => {
    const info = backend.runWebGPUProgram(new AdamWProgram(n, part), inputs.map(flat), 'float32', uniforms);
    const out = tf.engine().makeTensorFromTensorInfo(info);
    const shaped = tf.reshape(out, p.shape);
    out.dispose();
    return shaped;
  };
  const m2 = run('m', [m, g]);
  const v2 = run('v', [v, g]);
  return { m: m2, v: v2, p: run('p', [p, m2, v2]) };
}
