import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ModelError, UsageError } from '../errors.js';
import { bufferPoolStats } from './backend-pool.js';
import { watchWebGpuDevice } from './device-errors.js';
import { loadNativeBlas, NATIVE_BLAS_HINT } from './native-blas.js';
import { probeNativeBackend, startNativeBackend } from './native-backend.js';
import { patchWasmSlicing } from './wasm-kernels.js';

/** The backends `--backend` accepts, in the order auto-selection tries them. */
export const BackendNameSchema = z.enum(['tensorflow-gpu', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu']);
export type BackendName = z.infer<typeof BackendNameSchema>;
export const BACKEND_NAMES: readonly BackendName[] = BackendNameSchema.options;

/** A `--backend` value: a backend name, or `auto` / nothing for auto-selection (undefined). */
export function parseBackendFlag(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === 'auto') return undefined;
  const parsed = BackendNameSchema.safeParse(value);
  if (!parsed.success) throw new UsageError(`--backend: "${value}" is not a backend`, `use auto or one of: ${BACKEND_NAMES.join(', ')}`);
  return parsed.data;
}

export interface BackendInfo {
  /** Our name for it (one of BACKEND_NAMES). */
  name: BackendName;
  /** What it runs on, for the user: "CPU (WebAssembly, 1 thread)", "GPU: NVIDIA …". */
  device: string;
  /** True for a software renderer posing as a GPU (Dawn's fallback adapter, e.g. SwiftShader). */
  software?: boolean;
  /** The WebGPU adapter's buffer limits in bytes (webgpu only): no single tensor may exceed maxStorageBufferBindingSize. */
  limits?: GpuLimits;
}

export interface GpuLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface GpuAdapterSummary {
  name: string;
  software: boolean;
  limits: GpuLimits;
}

export interface SelectBackendOptions {
  /** Where auto-selection says why it passed over a GPU it found (stderr in commands). Defaults to silence. */
  log?: (line: string) => void;
}

/**
 * What auto-selection consults about WebGPU, replaceable so tests can stage a GPU that fails its self-test.
 * `probe` runs with the webgpu backend active and throws when the device computes or reads back wrongly.
 */
export const webgpuAutoChecks = {
  gpuDevicePresent,
  findAdapter: installWebGpu,
  probe: probeWebGpu,
};

/**
 * What auto-selection consults about tensorflow-gpu, replaceable so tests can stage both answers. libtensorflow 2.9
 * imports and runs on a machine without CUDA 11.2 / cuDNN 8 too, on the CPU: only the device it reports counts.
 */
export const tensorflowGpuChecks = {
  start: async (): Promise<void> => {
    await importOptional('@tensorflow/tfjs-node-gpu');
    await activate('tensorflow');
  },
  /** tfjs-node's backend copies the binding's `is_gpu_device` into `isUsingGpuDevice` when it starts. */
  usingGpuDevice: (): boolean => (tf.backend() as unknown as { isUsingGpuDevice?: unknown }).isUsingGpuDevice === true,
};

let current: BackendInfo | null = null;
// Set when auto-selection found no native addon, so that the wasm it falls to says how to get the fast path.
let nativeMissing = false;
// Dawn prints a Vulkan warning on every adapter probe, so a failed probe is remembered.
let webgpuFailure: Error | null = null;

/**
 * Starts a TensorFlow.js backend. Without `requested`, tries tensorflow-gpu (@tensorflow/tfjs-node-gpu, only when
 * libtensorflow reports a GPU device) → tensorflow (@tensorflow/tfjs-node) → webgpu (a hardware adapter that passes
 * a matMul read back asynchronously; never a software renderer) → native (wasm kernels with the system's BLAS for
 * matMuls, once a product checks out) → wasm → cpu. A requested backend that cannot start is a ModelError; calling again
 * with the backend already running is free.
 */
export async function selectBackend(requested?: BackendName, opts: SelectBackendOptions = {}): Promise<BackendInfo> {
  if (requested !== undefined && !BackendNameSchema.safeParse(requested).success) {
    throw new ModelError(`unknown backend "${String(requested)}"`, `use one of: ${BACKEND_NAMES.join(', ')}`);
  }
  if (current && (requested === undefined || current.name === requested)) return current;
  // Production mode: no per-op debug checks and no "install tfjs-node" banner from the cpu backend.
  tf.enableProdMode();
  if (requested) {
    try {
      current = await start(requested);
      return current;
    } catch (e) {
      throw new ModelError(`backend "${requested}" cannot start: ${firstLine(e)}`, hintFor(requested), e);
    }
  }
  const failures: string[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      const log = opts.log ?? (() => {});
      current = name === 'webgpu' ? await startAutoWebGpu(log) : name === 'native' ? await startAutoNative(log) : name === 'tensorflow-gpu' ? await startAutoTensorflowGpu(log) : await start(name);
      return current;
    } catch (e) {
      failures.push(`${name}: ${firstLine(e)}`);
    }
  }
  throw new ModelError(`no TensorFlow.js backend could start (${failures.join('; ')})`, 'reinstall dependencies: npm install');
}

/** The backend selectBackend started, or null. */
export function currentBackend(): BackendInfo | null {
  return current;
}

/** Makes the next selectBackend() choose again (tests that compare auto-selection outcomes in one process). */
export function forgetBackendSelection(): void {
  current = null;
  webgpuFailure = null;
  nativeMissing = false;
}

/**
 * WebGPU for auto-selection: only a hardware adapter, and only once it has multiplied two matrices and read the
 * result back the way every command will (asynchronously). Anything else falls through to the next backend, with
 * one line saying why when a GPU was there to be used.
 */
async function startAutoWebGpu(log: (line: string) => void): Promise<BackendInfo> {
  const checks = webgpuAutoChecks;
  if (!checks.gpuDevicePresent()) throw new Error('no GPU device node');
  const skip = (why: string): never => {
    log(`backend: not using webgpu (${why}); falling back`);
    throw new Error(why);
  };
  let adapter: GpuAdapterSummary;
  try {
    adapter = await checks.findAdapter();
  } catch (e) {
    return skip(`no usable adapter: ${firstLine(e)}`);
  }
  if (adapter.software) return skip(`only a software renderer (${adapter.name}); pass --backend webgpu to use it anyway`);
  let info: BackendInfo;
  try {
    info = await startWebGpu(adapter);
  } catch (e) {
    return skip(`it did not start: ${firstLine(e)}`);
  }
  try {
    await checks.probe();
  } catch (e) {
    // The failed backend stays registered but inactive; the next start() switches away from it.
    return skip(`the adapter failed a matMul self-test: ${firstLine(e)}`);
  }
  return info;
}

/** tensorflow-gpu for auto-selection: a package that imports but computes on the CPU is passed over, with one line. */
async function startAutoTensorflowGpu(log: (line: string) => void): Promise<BackendInfo> {
  // Not installed (the usual case) throws here, with nothing worth a line.
  await tensorflowGpuChecks.start();
  if (!tensorflowGpuChecks.usingGpuDevice()) {
    const why = 'libtensorflow loaded but reports no GPU device: CUDA 11.2 / cuDNN 8 missing';
    log(`backend: not using tensorflow-gpu (${why}); trying webgpu`);
    throw new Error(why);
  }
  return { name: 'tensorflow-gpu', device: 'GPU (libtensorflow, CUDA)' };
}

/**
 * The native BLAS backend for auto-selection: only once it has multiplied two matrices exactly. A missing addon
 * falls through to wasm with the one line that says how to get it; so does a failed probe.
 */
async function startAutoNative(log: (line: string) => void): Promise<BackendInfo> {
  const blas = loadNativeBlas();
  // Not built: the usual state without a BLAS. wasm's device line then carries the hint (see start), not a warning.
  if (blas instanceof Error) {
    nativeMissing = true;
    throw blas;
  }
  try {
    const info = await start('native');
    await probeNativeBackend();
    return info;
  } catch (e) {
    log(`backend: not using native (the BLAS matMul failed its self-test: ${firstLine(e)}); falling back`);
    throw e;
  }
}

const PROBE_TIMEOUT_MS = 20_000;

/** A 3×4 · 4×2 matMul read back with `await data()` must give exactly the integers the CPU computes. */
async function probeWebGpu(): Promise<void> {
  const A = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const B = [1, 0, 0, 1, 1, 1, 2, -1];
  // Small integers: every product and sum is exact in float32, so the answer must match bit for bit.
  const want = Array.from({ length: 6 }, (_, k) => {
    const [i, j] = [Math.floor(k / 2), k % 2];
    return [0, 1, 2, 3].reduce((s, l) => s + A[i * 4 + l]! * B[l * 2 + j]!, 0);
  });
  const a = tf.tensor2d(A, [3, 4]);
  const b = tf.tensor2d(B, [4, 2]);
  const c = tf.matMul(a, b);
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result after ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
    });
    const got = await Promise.race([c.data(), timeout]).finally(() => clearTimeout(timer));
    if (got.length !== want.length || want.some((v, i) => got[i] !== v)) throw new Error(`got [${Array.from(got).join(', ')}], expected [${want.join(', ')}]`);
  } finally {
    tf.dispose([a, b, c]);
  }
}

function hintFor(name: BackendName): string {
  switch (name) {
    case 'tensorflow-gpu':
      return 'install @tensorflow/tfjs-node-gpu (needs CUDA 11.2 + cuDNN 8.1 and network access to fetch libtensorflow), or use --backend webgpu / wasm';
    case 'tensorflow':
      return 'install @tensorflow/tfjs-node (downloads libtensorflow), or use --backend wasm';
    case 'native':
      return NATIVE_BLAS_HINT;
    case 'webgpu':
      return 'WebGPU needs the `webgpu` npm package and a GPU with a Vulkan (Linux), Metal or D3D12 driver and its loader; use --backend wasm on CPU-only machines';
    default:
      return 'reinstall dependencies: npm install';
  }
}

// Variable specifiers keep TypeScript from requiring the optional packages at compile time.
const importOptional = (spec: string): Promise<unknown> => import(spec);

async function start(name: BackendName): Promise<BackendInfo> {
  switch (name) {
    case 'tensorflow-gpu': {
      await tensorflowGpuChecks.start();
      if (!tensorflowGpuChecks.usingGpuDevice()) {
        throw new Error('libtensorflow loaded but reports no GPU device (it needs CUDA 11.2 and cuDNN 8; without them it computes on the CPU)');
      }
      return { name, device: 'GPU (libtensorflow, CUDA)' };
    }
    case 'tensorflow': {
      await importOptional('@tensorflow/tfjs-node');
      await activate('tensorflow');
      return { name, device: 'CPU (libtensorflow, native)' };
    }
    case 'webgpu':
      return startWebGpu(await installWebGpu());
    case 'native': {
      const blas = loadNativeBlas();
      if (blas instanceof Error) throw blas;
      await startNativeBackend(blas);
      const threads = blas.threads();
      return { name, device: `CPU (native BLAS: ${blas.config().split(' ').slice(0, 2).join(' ')}${threads ? `, ${threads} thread${threads > 1 ? 's' : ''}` : ''})` };
    }
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      await activate('wasm');
      patchWasmSlicing();
      return { name, device: `CPU (WebAssembly, 1 thread${nativeMissing ? `; ${NATIVE_BLAS_HINT}` : ''})` };
    }
    case 'cpu': {
      await activate('cpu');
      return { name, device: 'CPU (plain JavaScript, slow: use for tiny models only)' };
    }
  }
}

async function startWebGpu(adapter: GpuAdapterSummary): Promise<BackendInfo> {
  await import('@tensorflow/tfjs-backend-webgpu');
  await activate('webgpu');
  // From here on the buffer pool's acquisitions are tracked, so trimming knows which sizes are still wanted.
  bufferPoolStats();
  watchWebGpuDevice();
  const device = adapter.software ? `WebGPU on a software renderer (slow): ${adapter.name}` : `GPU (WebGPU/Dawn: ${adapter.name})`;
  return { name: 'webgpu', device, software: adapter.software, limits: adapter.limits };
}

async function activate(tfName: string): Promise<void> {
  if (!tf.findBackendFactory(tfName)) throw new Error(`TensorFlow.js has no "${tfName}" backend registered`);
  const ok = await tf.setBackend(tfName);
  if (!ok || tf.getBackend() !== tfName) throw new Error(`tf.setBackend('${tfName}') failed`);
  await tf.ready();
}

/**
 * Whether probing WebGPU in auto mode is worth it. On Linux a GPU shows up as /dev/dri or /dev/nvidia*; without
 * one, Dawn's probe only prints a Vulkan warning to stderr. Elsewhere (macOS Metal, Windows D3D12) always probe.
 */
function gpuDevicePresent(): boolean {
  if (process.platform !== 'linux') return true;
  return existsSync('/dev/dri') || existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl');
}

let gpuAdapter: GpuAdapterSummary | null = null;

/** Exposes Dawn (the `webgpu` package) as navigator.gpu, which tfjs-backend-webgpu looks for when it loads. */
async function installWebGpu(): Promise<GpuAdapterSummary> {
  if (gpuAdapter) return gpuAdapter;
  if (webgpuFailure) throw webgpuFailure;
  try {
    gpuAdapter = await findWebGpuAdapter();
    return gpuAdapter;
  } catch (e) {
    webgpuFailure = e as Error;
    throw e;
  }
}

async function findWebGpuAdapter(): Promise<GpuAdapterSummary> {
  let webgpu: { create: (opts: string[]) => GpuLike; globals: Record<string, unknown> };
  try {
    webgpu = (await importOptional('webgpu')) as typeof webgpu;
  } catch (e) {
    throw new Error(`the \`webgpu\` package does not load (${firstLine(e)})`, { cause: e });
  }
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter found (no GPU driver answered: on Linux, a Vulkan driver and libvulkan.so.1)');
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const info = adapter.info ?? {};
  return {
    name: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'adapter',
    software: info.isFallbackAdapter === true || adapter.isFallbackAdapter === true,
    limits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
  };
}

interface GpuLike {
  requestAdapter(opts?: unknown): Promise<{
    info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
    /** Older Dawn builds expose the flag on the adapter rather than in info. */
    isFallbackAdapter?: boolean;
    limits: GpuLimits;
  } | null>;
}

const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
