import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { ModelError } from '../errors.js';
import { patchWasmSlicing } from './wasm-kernels.js';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendInfo {
  /** Our name for it (one of BACKEND_NAMES). */
  name: string;
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

let current: BackendInfo | null = null;
// Dawn prints a Vulkan warning on every adapter probe, so a failed probe is remembered.
let webgpuFailure: Error | null = null;

/**
 * Starts a TensorFlow.js backend. Without `requested`, tries tensorflow-gpu (@tensorflow/tfjs-node-gpu) →
 * tensorflow (@tensorflow/tfjs-node) → webgpu (only when a GPU adapter is found) → wasm → cpu. A requested
 * backend that cannot start is a ModelError; calling again with the backend already running is free.
 */
export async function selectBackend(requested?: BackendName): Promise<BackendInfo> {
  if (requested !== undefined && !BACKEND_NAMES.includes(requested)) {
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
      throw new ModelError(`backend "${requested}" cannot start: ${(e as Error).message}`, hintFor(requested), e);
    }
  }
  const failures: string[] = [];
  for (const name of BACKEND_NAMES) {
    if (name === 'webgpu' && !gpuDevicePresent()) {
      failures.push('webgpu: no GPU device node');
      continue;
    }
    try {
      current = await start(name);
      return current;
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new ModelError(`no TensorFlow.js backend could start (${failures.join('; ')})`, 'reinstall dependencies: npm install');
}

/** The backend selectBackend started, or null. */
export function currentBackend(): BackendInfo | null {
  return current;
}

function hintFor(name: BackendName): string {
  switch (name) {
    case 'tensorflow-gpu':
      return 'install @tensorflow/tfjs-node-gpu (needs CUDA and network access to fetch libtensorflow), or use --backend webgpu / wasm';
    case 'tensorflow':
      return 'install @tensorflow/tfjs-node (downloads libtensorflow), or use --backend wasm';
    case 'webgpu':
      return 'WebGPU needs the `webgpu` npm package and a GPU with a Vulkan/Metal/D3D12 driver; use --backend wasm on CPU-only machines';
    default:
      return 'reinstall dependencies: npm install';
  }
}

// Variable specifiers keep TypeScript from requiring the optional packages at compile time.
const importOptional = (spec: string): Promise<unknown> => import(spec);

async function start(name: BackendName): Promise<BackendInfo> {
  switch (name) {
    case 'tensorflow-gpu': {
      await importOptional('@tensorflow/tfjs-node-gpu');
      await activate('tensorflow');
      return { name, device: 'GPU (libtensorflow, CUDA)' };
    }
    case 'tensorflow': {
      await importOptional('@tensorflow/tfjs-node');
      await activate('tensorflow');
      return { name, device: 'CPU (libtensorflow, native)' };
    }
    case 'webgpu': {
      if (webgpuFailure) throw webgpuFailure;
      let adapter: GpuAdapterSummary;
      try {
        adapter = await installWebGpu();
      } catch (e) {
        webgpuFailure = e as Error;
        throw e;
      }
      await import('@tensorflow/tfjs-backend-webgpu');
      await activate('webgpu');
      const device = adapter.software ? `WebGPU on a software renderer (slow): ${adapter.name}` : `GPU (WebGPU/Dawn: ${adapter.name})`;
      return { name, device, software: adapter.software, limits: adapter.limits };
    }
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      await activate('wasm');
      patchWasmSlicing();
      return { name, device: 'CPU (WebAssembly, 1 thread)' };
    }
    case 'cpu': {
      await activate('cpu');
      return { name, device: 'CPU (plain JavaScript, slow: use for tiny models only)' };
    }
  }
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

interface GpuAdapterSummary {
  name: string;
  software: boolean;
  limits: GpuLimits;
}

let gpuAdapter: GpuAdapterSummary | null = null;

/** Exposes Dawn (the `webgpu` package) as navigator.gpu, which tfjs-backend-webgpu looks for when it loads. */
async function installWebGpu(): Promise<GpuAdapterSummary> {
  if (gpuAdapter) return gpuAdapter;
  const webgpu = (await importOptional('webgpu')) as { create: (opts: string[]) => GpuLike; globals: Record<string, unknown> };
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('no WebGPU adapter found');
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const info = adapter.info ?? {};
  gpuAdapter = {
    name: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'adapter',
    software: info.isFallbackAdapter === true || adapter.isFallbackAdapter === true,
    limits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
  };
  return gpuAdapter;
}

interface GpuLike {
  requestAdapter(opts?: unknown): Promise<{
    info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
    /** Older Dawn builds expose the flag on the adapter rather than in info. */
    isFallbackAdapter?: boolean;
    limits: GpuLimits;
  } | null>;
}
