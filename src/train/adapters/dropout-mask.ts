import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';

/**
 * Inverted-dropout masks (0 or 1/(1−p)) as a pure function of (seed, element index): element i is kept when
 * lowbias32(lowbias32(i ⊕ s1) ⊕ s2) ≥ p·2³², with s1, s2 drawn from the seed (lowbias32: Wellons' 32-bit integer
 * hash). JavaScript (Math.imul) and a WGSL kernel (u32 arithmetic wraps the same way) compute the same bits, so
 * wasm and WebGPU runs draw identical masks, and a resumed run or another worker draws the same ones.
 *
 * Why a hash and a kernel of our own: tf.randomUniform fills its buffer in JavaScript in tfjs 4.22 (no backend
 * draws on the device), so a "device" mask would be one host→device copy per adapted module and pass; and
 * composing the hash from tfjs ops does not work either, because tfjs-backend-webgpu evaluates int32 Mod and
 * FloorDiv in float32 (measured: 12345² mod 46337 comes out 42968, not 42969).
 */
const lowbias32 = (v: number): number => {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
};

interface MaskKeys {
  s1: number;
  s2: number;
  /** kept when hash ≥ threshold (uint32) */
  threshold: number;
  keep: number;
}

function maskKeys(p: number, seed: number): MaskKeys {
  const rng = new Rng(seed);
  return { s1: rng.nextUint32(), s2: rng.nextUint32(), threshold: Math.min(0xffffffff, Math.round(p * 2 ** 32)), keep: Math.fround(1 / (1 - p)) };
}

/** The mask's n values, computed in JavaScript (CPU backends, and GPU backends without our kernel). */
export function dropoutMaskData(n: number, p: number, seed: number): Float32Array {
  const { s1, s2, threshold, keep } = maskKeys(p, seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lowbias32(lowbias32(i ^ s1) ^ s2) >= threshold ? keep : 0;
  return out;
}

interface WebGpuBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: Array<{ type: string; data: number[] }>): tf.TensorInfo;
}

/** One dispatch that writes the whole mask on the GPU (the program layout tfjs-backend-webgpu's FillProgram uses). */
class DropoutMaskProgram {
  readonly variableNames: string[] = [];
  readonly outputShape: number[];
  readonly uniforms = 's1 : u32, s2 : u32, threshold : u32, keep : f32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly shaderKey = 'alpacaForgeDropoutMask';
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(n: number) {
    this.outputShape = [n];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(n / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      fn lowbias32(v : u32) -> u32 {
        var x = v;
        x = x ^ (x >> 16u);
        x = x * 0x7feb352du;
        x = x ^ (x >> 15u);
        x = x * 0x846ca68bu;
        x = x ^ (x >> 16u);
        return x;
      }
      fn main(index : i32) {
        if (index < uniforms.size) {
          let h = lowbias32(lowbias32(u32(index) ^ uniforms.s1) ^ uniforms.s2);
          setOutputAtIndex(index, select(0.0, uniforms.keep, h >= uniforms.threshold));
        }
      }
    `;
  }
}

/**
 * The mask as a tensor on the running backend: drawn by a kernel on webgpu, uploaded from dropoutMaskData
 * elsewhere. Same values either way.
 */
export function dropoutMaskTensor(shape: [number, number], p: number, seed: number): tf.Tensor2D {
  const n = shape[0] * shape[1];
  if (tf.getBackend() !== 'webgpu') return tf.tensor2d(dropoutMaskData(n, p, seed), shape);
  const { s1, s2, threshold, keep } = maskKeys(p, seed);
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const info = backend.runWebGPUProgram(new DropoutMaskProgram(n), [], 'float32', [
    { type: 'uint32', data: [s1] },
    { type: 'uint32', data: [s2] },
    { type: 'uint32', data: [threshold] },
    { type: 'float32', data: [keep] },
  ]);
  const flat = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
  const out = tf.reshape(flat, shape) as tf.Tensor2D;
  flat.dispose();
  return out;
}
