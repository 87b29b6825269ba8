import * as tf from '@tensorflow/tfjs';

/**
 * Replacement Slice / SplitV / Unpack kernels for tfjs-backend-wasm 4.22.
 *
 * The stock Slice kernel reads its input with `backend.readSync`, which copies the WHOLE input tensor out of the
 * wasm heap on every call, and SplitV / Unpack call it once per output. Taking 12 slices of a [12, 384, 128]
 * tensor cost ~20 ms (a copy of 2.4 MB per slice) where ~0.1 ms is enough. These kernels copy only the slice,
 * straight from a heap view. Registered once when the wasm backend starts.
 */

/** The parts of tfjs-backend-wasm's tensor info and backend that kernels reading the heap in place use. */
export interface HeapTensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): HeapTensorInfo;
  typedArrayFromHeap(t: HeapTensorInfo): Float32Array | Int32Array | Uint8Array;
}

function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

function heapSlice(backend: WasmBackendLike, x: HeapTensorInfo, begin: number[], size: number[]): HeapTensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  // Views are taken after makeOutput: allocating may grow (and so detach) the heap buffer.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  if (dst.length === 0) return out;
  if (rank === 0) {
    dst[0] = src[0]!;
    return out;
  }
  const strides = stridesOf(x.shape);
  // Merge trailing dimensions that are taken whole into one contiguous run.
  let inner = rank - 1;
  let run = size[inner]!;
  while (inner > 0 && size[inner] === x.shape[inner]) {
    inner--;
    run *= size[inner]!;
  }
  let offset = 0;
  for (let d = 0; d < rank; d++) offset += begin[d]! * strides[d]!;
  const outer = size.slice(0, inner);
  const idx = new Array<number>(inner).fill(0);
  let o = 0;
  for (;;) {
    let s = offset;
    for (let d = 0; d < inner; d++) s += idx[d]! * strides[d]!;
    dst.set(src.subarray(s, s + run), o);
    o += run;
    let d = inner - 1;
    while (d >= 0 && ++idx[d]! === outer[d]!) idx[d--] = 0;
    if (d < 0) break;
  }
  return out;
}

let patched = false;

export function patchWasmSlicing(): void {
  if (patched) return;
  const original = tf.getKernel('Slice', 'wasm');
  if (!original) return;
  patched = true;
  const reregister = (name: string, kernelFunc: tf.KernelFunc) => {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
  };
  reregister('Slice', (args) => {
    const { inputs, attrs, backend } = args as unknown as { inputs: { x: HeapTensorInfo }; attrs: { begin: number | number[]; size: number | number[] }; backend: WasmBackendLike };
    const x = inputs.x;
    if (x.dtype === 'string') return original.kernelFunc(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, attrs.begin, attrs.size);
    return heapSlice(backend, x, begin!, size!) as unknown as tf.TensorInfo;
  });
  reregister('SplitV', (args) => {
    const { inputs, attrs, backend } = args as unknown as { inputs: { x: HeapTensorInfo }; attrs: { numOrSizeSplits: number | number[]; axis: number | number[] }; backend: WasmBackendLike };
    const x = inputs.x;
    const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0]!;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const piece = heapSlice(backend, x, [...begin], size);
      begin[axis]! += s;
      return piece;
    }) as unknown as tf.TensorInfo[];
  });
  reregister('Unpack', (args) => {
    const { inputs, attrs, backend } = args as unknown as { inputs: { value: HeapTensorInfo }; attrs: { axis: number }; backend: WasmBackendLike };
    const x = inputs.value;
    const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
    const outShape = x.shape.filter((_, i) => i !== axis);
    const size = [...x.shape];
    size[axis] = 1;
    return Array.from({ length: x.shape[axis]! }, (_, i) => {
      const begin = new Array<number>(x.shape.length).fill(0);
      begin[axis] = i;
      const piece = heapSlice(backend, x, begin, size);
      return { dataId: piece.dataId, dtype: piece.dtype, shape: outShape };
    }) as unknown as tf.TensorInfo[];
  });
}
