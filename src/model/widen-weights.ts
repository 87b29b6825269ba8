import * as tf from '@tensorflow/tfjs';
import { unpackWeight, type Bf16Weight, type Int8Weight, type PackedWeightData } from './base-weights.js';

/**
 * A bf16 or int8 weight held on the backend as int32 words (tfjs has neither dtype), and widened to a float32
 * [in, out] tensor when a matMul needs it: one matrix at a time, so a model costs its packed bytes plus one
 * float32 matrix. On webgpu one dispatch widens it on the device; elsewhere (CPU backends, whose memory is the
 * host's) the words are read back and widened in JavaScript.
 */
export interface PackedWeight {
  kind: 'bf16' | 'int8';
  rows: number;
  cols: number;
  words: tf.Tensor1D;
  /** int8 only (else null): per-column scales, per-row outlier slots, outlier rows */
  scale: tf.Tensor1D | null;
  slot: tf.Tensor1D | null;
  outliers: tf.Tensor1D | null;
}

export function uploadPacked(p: PackedWeightData): PackedWeight {
  if (p.kind === 'bf16') return { kind: 'bf16', rows: p.rows, cols: p.cols, words: tf.tensor1d(p.words, 'int32'), scale: null, slot: null, outliers: null };
  return {
    kind: 'int8',
    rows: p.rows,
    cols: p.cols,
    words: tf.tensor1d(p.words, 'int32'),
    scale: tf.tensor1d(p.scale),
    slot: tf.tensor1d(p.slot, 'int32'),
    outliers: tf.tensor1d(p.outliers),
  };
}

export function packedTensors(p: PackedWeight): tf.Tensor[] {
  return [p.words, p.scale, p.slot, p.outliers].filter((t): t is tf.Tensor1D => t !== null);
}

interface WebGpuBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: Array<{ type: string; data: number[] }>): tf.TensorInfo;
}

/** The program shape tfjs-backend-webgpu's element-wise programs use (one invocation per output element). */
class WidenProgram {
  readonly outputShape: number[];
  readonly uniforms = 'cols : i32,';
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  dispatch: [number, number, number];

  constructor(
    readonly kind: 'bf16' | 'int8',
    n: number,
    readonly variableNames: string[],
  ) {
    this.outputShape = [n];
    this.shaderKey = `alpacaForgeWiden_${kind}`;
    this.dispatchLayout = { x: [0] };
    // Past 65,535 workgroups the backend folds the dispatch into y and z itself (reshapeDispatch).
    this.dispatch = [Math.ceil(n / 64), 1, 1];
  }

  getUserCode(): string {
    if (this.kind === 'bf16') {
      return `
        fn main(index : i32) {
          if (index < uniforms.size) {
            let w = bitcast<u32>(words[index >> 1u]);
            let h = (w >> (16u * u32(index & 1))) & 0xffffu;
            setOutputAtIndex(index, bitcast<f32>(h << 16u));
          }
        }`;
    }
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let i = index / uniforms.cols;
          let j = index - i * uniforms.cols;
          let s = slot[i];
          if (s >= 0) {
            setOutputAtIndex(index, outliers[s * uniforms.cols + j]);
          } else {
            let q = (words[index >> 2u] << (24u - 8u * u32(index & 3))) >> 24u;
            setOutputAtIndex(index, f32(q) * scale[j]);
          }
        }
      }`;
  }
}

/** The float32 [rows, cols] tensor a packed weight stands for; a new tensor the caller disposes. */
export function widenWeight(p: PackedWeight): tf.Tensor2D {
  const n = p.rows * p.cols;
  if (tf.getBackend() === 'webgpu') {
    const inputs = p.kind === 'bf16' ? [p.words] : [p.words, p.scale!, p.slot!, p.outliers!];
    const names = p.kind === 'bf16' ? ['words'] : ['words', 'scale', 'slot', 'outliers'];
    const backend = tf.backend() as unknown as WebGpuBackendLike;
    const info = backend.runWebGPUProgram(new WidenProgram(p.kind, n, names), inputs, 'float32', [{ type: 'int32', data: [p.cols] }]);
    const flat = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
    const out = tf.reshape(flat, [p.rows, p.cols]) as tf.Tensor2D;
    flat.dispose();
    return out;
  }
  return tf.tensor2d(unpackWeight(hostCopy(p)), [p.rows, p.cols]);
}

/** The packed data back on the host (CPU backends answer dataSync from their own memory). */
function hostCopy(p: PackedWeight): PackedWeightData {
  const words = p.words.dataSync() as Int32Array;
  if (p.kind === 'bf16') return { kind: 'bf16', rows: p.rows, cols: p.cols, words } satisfies Bf16Weight;
  return {
    kind: 'int8',
    rows: p.rows,
    cols: p.cols,
    words,
    scale: p.scale!.dataSync() as Float32Array,
    slot: p.slot!.dataSync() as Int32Array,
    outliers: p.outliers!.dataSync() as Float32Array,
  } satisfies Int8Weight;
}
