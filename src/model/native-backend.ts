import * as tf from '@tensorflow/tfjs';
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import type { NativeBlas } from './native-blas.js';
import { patchWasmSlicing, type HeapTensorInfo, type WasmBackendLike } from './wasm-kernels.js';

/**
 * The `native` TensorFlow.js backend: tfjs-backend-wasm's kernels and heap, with the matMul family (BatchMatMul,
 * _FusedMatMul) computed by the system's BLAS through the native addon. The addon reads and writes the wasm heap
 * in place (a Float32Array view of it), so a product costs no copies; transposed operands are free (BLAS reads
 * either layout), where wasm's transposeB runs ~10× slower than its plain product.
 */
export const NATIVE_BACKEND = 'native';

interface MatMulArgs {
  inputs: { a: HeapTensorInfo; b: HeapTensorInfo; bias?: HeapTensorInfo; preluActivationWeights?: HeapTensorInfo };
  attrs: { transposeA: boolean; transposeB: boolean; activation?: string };
  backend: WasmBackendLike;
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** op(a)·op(b) over broadcast batch dims, written into a new heap tensor; null when the batches do not broadcast simply. */
function blasMatMul(blas: NativeBlas, { inputs: { a, b }, attrs: { transposeA, transposeB }, backend }: MatMulArgs): HeapTensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) throw new Error(`Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  // Same batch, or one operand shared by every batch: the cases one strided call covers (as wasm's kernel).
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.makeOutput([...outer, m, n], 'float32');
  // Views are taken after makeOutput: allocating may grow (and so detach) the heap buffer.
  const av = backend.typedArrayFromHeap(a) as Float32Array;
  const bv = backend.typedArrayFromHeap(b) as Float32Array;
  const cv = backend.typedArrayFromHeap(out) as Float32Array;
  blas.sgemmBatched(transposeA, transposeB, m, n, k, av, bv, cv, Math.max(batchA, batchB), batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n);
  return out;
}

let registered = false;

/**
 * Registers `native` once: the wasm backend's instance (its heap, its tensors) under a second name, every wasm
 * kernel under that name, and the BLAS matMuls over them. Leaves `native` active.
 */
export async function startNativeBackend(blas: NativeBlas): Promise<void> {
  if (!registered) {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed");
    patchWasmSlicing();
    // The very instance wasm runs on: a second BackendWasm over the same module would number its tensors from 1
    // again, and the module's tensor registry (keyed by those numbers) would abort on the first clash.
    const wasmBackend = tf.findBackend('wasm');
    tf.registerBackend(NATIVE_BACKEND, () => wasmBackend, 0);
    const wasmKernels = new Map(tf.getKernelsForBackend('wasm').map((k) => [k.kernelName, k]));
    for (const k of wasmKernels.values()) {
      if (k.kernelName !== tf.BatchMatMul && k.kernelName !== tf._FusedMatMul) tf.registerKernel({ ...k, backendName: NATIVE_BACKEND });
    }
    const wasmBatch = wasmKernels.get(tf.BatchMatMul)!.kernelFunc;
    const wasmFused = wasmKernels.get(tf._FusedMatMul)!.kernelFunc;
    tf.registerKernel({
      kernelName: tf.BatchMatMul,
      backendName: NATIVE_BACKEND,
      kernelFunc: (args) => (blasMatMul(blas, args as unknown as MatMulArgs) ?? wasmBatch(args)) as unknown as tf.TensorInfo,
    });
    tf.registerKernel({
      kernelName: tf._FusedMatMul,
      backendName: NATIVE_BACKEND,
      kernelFunc: (args) => {
        const m = args as unknown as MatMulArgs;
        const { bias, preluActivationWeights } = m.inputs;
        // Activations are left to wasm's fused kernel (the model never asks for one); a rank-1 bias is added here.
        if ((m.attrs.activation ?? 'linear') !== 'linear' || preluActivationWeights || (bias && bias.shape.length !== 1)) return wasmFused(args);
        const out = blasMatMul(blas, m);
        if (!out) return wasmFused(args);
        if (bias) {
          const c = m.backend.typedArrayFromHeap(out) as Float32Array;
          const v = m.backend.typedArrayFromHeap(bias) as Float32Array;
          const n = v.length;
          for (let i = 0; i < c.length; i++) c[i]! += v[i % n]!;
        }
        return out as unknown as tf.TensorInfo;
      },
    });
    registered = true;
  }
  // One BLAS thread per core in one process; one per worker thread when training runs a worker per core
  // (OpenBLAS's setting is process-wide, and the workers share the cores). OPENBLAS_NUM_THREADS wins when set.
  if (process.env['OPENBLAS_NUM_THREADS'] === undefined) blas.setThreads(isMainThread ? availableParallelism() : 1);
  if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error(`tf.setBackend('${NATIVE_BACKEND}') failed`);
  await tf.ready();
}

/** A 3×4·4×2 product and its transposed twin through the BLAS kernels, checked bit for bit against plain JS. */
export async function probeNativeBackend(): Promise<void> {
  const A = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const B = [1, 0, 0, 1, 1, 1, 2, -1];
  const want = Array.from({ length: 6 }, (_, i) => [0, 1, 2, 3].reduce((s, l) => s + A[Math.floor(i / 2) * 4 + l]! * B[l * 2 + (i % 2)]!, 0));
  const a = tf.tensor2d(A, [3, 4]);
  const b = tf.tensor2d(B, [4, 2]);
  const bT = tf.tensor2d([0, 2, 4, 6, 1, 3, 5, 7].map((i) => B[i]!), [2, 4]);
  const c = tf.matMul(a, b);
  const cT = tf.matMul(a, bT, false, true);
  try {
    for (const got of [await c.data(), await cT.data()]) {
      // Small integers: every product and sum is exact in float32.
      if (want.some((v, i) => got[i] !== v)) throw new Error(`BLAS matMul gave [${Array.from(got).join(', ')}], expected [${want.join(', ')}]`);
    }
  } finally {
    tf.dispose([a, b, bT, c, cT]);
  }
}
