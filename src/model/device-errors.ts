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
}

const lostDevices = new WeakMap<object, { reason?: string; message: string }>();
const watched = new WeakSet<object>();

function webgpuDevice(): DeviceLike | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const device = (tf.backend() as unknown as { device?: DeviceLike }).device;
  if (!device) return null;
  if (!watched.has(device)) {
    watched.add(device);
    void device.lost.then((info) => lostDevices.set(device, info));
  }
  return device;
}

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
