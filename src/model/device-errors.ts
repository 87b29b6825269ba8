import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';

/**
 * WebGPU reports failures out of band: an over-limit buffer or an out-of-memory allocation raises nothing where it
 * happens, Dawn prints it (to stdout, which would corrupt --json), every later use of the invalid buffer is
 * skipped, and a read returns whatever the staging buffer held before — the previous read's value. So every
 * device step and read runs inside validation and out-of-memory error scopes, and a popped error, or a lost
 * device, becomes a ModelError with a hint instead of a number anyone trusts. Errors captured by a scope are not
 * printed.
 */
interface GpuErrorLike {
  message: string;
}
interface DeviceLike {
  pushErrorScope(filter: 'validation' | 'out-of-memory'): void;
  popErrorScope(): Promise<GpuErrorLike | null>;
  lost: Promise<{ reason?: string; message: string }>;
  addEventListener?(type: 'uncapturederror', listener: (ev: { error?: GpuErrorLike; preventDefault?(): void }) => void): void;
}

interface BackendLike {
  device?: DeviceLike;
  read(dataId: object): Promise<unknown>;
}

const lostDevices = new WeakMap<object, { reason?: string; message: string }>();
/** Errors no scope captured (work outside withDeviceErrors: score, sample, merge), not yet reported by a read. */
const uncaptured = new WeakMap<object, GpuErrorLike[]>();
const watchedBackends = new WeakSet<object>();

/**
 * Watches the running webgpu backend's device (idempotent; backend.ts calls it when webgpu starts): a lost device is
 * remembered, errors outside the scopes are caught by an uncapturederror listener (which also keeps Dawn from
 * printing them to stdout), and every read from the device fails with a ModelError once such an error happened,
 * instead of returning what a rejected buffer held before.
 */
export function watchWebGpuDevice(): DeviceLike | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const backend = tf.backend() as unknown as BackendLike;
  const device = backend.device;
  if (!device) return null;
  if (watchedBackends.has(backend)) return device;
  watchedBackends.add(backend);
  void device.lost.then((info) => lostDevices.set(device, info));
  uncaptured.set(device, []);
  device.addEventListener?.('uncapturederror', (ev) => {
    ev.preventDefault?.();
    uncaptured.get(device)!.push(ev.error ?? { message: 'unknown WebGPU error' });
  });
  const read = backend.read.bind(backend);
  backend.read = async (dataId) => {
    const values = await read(dataId);
    throwIfDeviceFailed('a read from the GPU');
    return values;
  };
  return device;
}

/** Throws a ModelError when the device reported an error outside the scopes since the last check (and forgets it). */
export function throwIfDeviceFailed(what: string): void {
  if (tf.getBackend() !== 'webgpu') return;
  const device = (tf.backend() as unknown as BackendLike).device;
  const errors = device ? uncaptured.get(device) : undefined;
  if (!errors || errors.length === 0) return;
  const first = errors[0]!.message.split('\n')[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  errors.length = 0;
  throw new ModelError(`the GPU rejected work before ${what}, so its values cannot be trusted: ${first}${more}`, `${HINT}; a tensor over the adapter's buffer limit is the usual cause`);
}

const webgpuDevice = watchWebGpuDevice;

const HINT = 'lower --micro-batch-size or --cutoff-len, store the base weights smaller (--base-weights bf16 or int8), or turn on --gradient-checkpointing';

/** Runs f (device work and its reads) inside error scopes; throws a ModelError when the device reported one. */
export async function withDeviceErrors<T>(what: string, f: () => Promise<T>): Promise<T> {
  const device = webgpuDevice();
  if (!device) return f();
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  let thrown: unknown = null;
  try {
    result = await f();
  } catch (e) {
    thrown = e;
  }
  // Scopes pop in reverse order, and always: a scope left pushed would swallow every later error.
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  const lost = lostDevices.get(device);
  if (lost) throw new ModelError(`the WebGPU device was lost during ${what}: ${lost.reason ?? 'unknown'}${lost.message ? ` (${lost.message.split('\n')[0]})` : ''}`, 'rerun the command (train resumes from its last checkpoint); if it recurs, ' + HINT, thrown ?? undefined);
  if (oom) throw new ModelError(`the GPU ran out of memory during ${what}: ${oom.message.split('\n')[0]}`, HINT);
  if (validation) throw new ModelError(`the GPU rejected ${what}, so its results cannot be trusted: ${validation.message.split('\n')[0]}`, `${HINT}; a tensor over the adapter's buffer limit is the usual cause`);
  if (thrown !== null) throw thrown;
  return result!;
}
