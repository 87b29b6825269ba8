import * as tf from '@tensorflow/tfjs';

/**
 * tfjs-backend-webgpu's BufferManager (4.22, buffer_manager.ts) keeps every freed buffer for reuse, keyed by exact
 * byte size and usage, until the backend is disposed: memory only grows, by a pass's activations at every new
 * shape. Padded lengths come from a few buckets (train/batching.ts) and the KV cache grows in chunks, so few sizes
 * recur; this trims what is left: after each step or sample, free buffers beyond a budget are destroyed, those whose
 * size was wanted least recently first, never those the last step used (the next one will want them again).
 */
interface GpuBufferLike {
  size: number;
  destroy(): void;
}

interface BufferManagerLike {
  numBytesUsed: number;
  numBytesAllocated: number;
  numFreeBuffers: number;
  freeBuffers: Map<string, GpuBufferLike[]>;
  usedBuffers: Map<string, GpuBufferLike[]>;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GpuBufferLike;
}

export interface PoolStats {
  /** bytes of every buffer the pool created and has not destroyed */
  allocatedBytes: number;
  /** bytes held by live tensors (and in-flight uniforms and staging buffers) */
  usedBytes: number;
  /** allocated − used: buffers kept only for reuse */
  freeBytes: number;
  freeBuffers: number;
  /** distinct (size, usage) keys with a buffer allocated */
  sizes: number;
}

/** Free bytes the pool may keep between steps. Defaults to 512 MiB: a few passes of a mid-sized model. */
export const poolBudget = { bytes: 512 * 1024 ** 2 };

interface Tracked {
  /** acquisition counter per key: the recency that trimming goes by */
  lastUse: Map<string, number>;
  tick: number;
  /** the tick of the previous trim: keys used since then are the working set of the step that just ran */
  lastTrim: number;
}

const tracked = new WeakMap<BufferManagerLike, Tracked>();

/** The running webgpu backend's buffer pool, with acquisitions tracked from the first call on; null elsewhere. */
function bufferManager(): { bm: BufferManagerLike; t: Tracked } | null {
  if (tf.getBackend() !== 'webgpu') return null;
  const bm = (tf.backend() as unknown as { bufferManager?: BufferManagerLike }).bufferManager;
  if (!bm || typeof bm.acquireBuffer !== 'function' || !(bm.freeBuffers instanceof Map)) return null;
  let t = tracked.get(bm);
  if (!t) {
    const state: Tracked = { lastUse: new Map(), tick: 0, lastTrim: 0 };
    const acquire = bm.acquireBuffer.bind(bm);
    bm.acquireBuffer = (size, usage, mappedAtCreation, reuse) => {
      state.lastUse.set(`${size}_${usage}`, ++state.tick);
      return acquire(size, usage, mappedAtCreation, reuse);
    };
    tracked.set(bm, state);
    t = state;
  }
  return { bm, t };
}

/** Counts of the webgpu buffer pool, or null on other backends. */
export function bufferPoolStats(): PoolStats | null {
  const m = bufferManager();
  if (!m) return null;
  const { bm } = m;
  const keys = new Set<string>();
  for (const map of [bm.freeBuffers, bm.usedBuffers]) for (const [key, list] of map) if (list.length > 0) keys.add(key);
  return { allocatedBytes: bm.numBytesAllocated, usedBytes: bm.numBytesUsed, freeBytes: bm.numBytesAllocated - bm.numBytesUsed, freeBuffers: bm.numFreeBuffers, sizes: keys.size };
}

/**
 * Destroys free pooled buffers until at most `budget` bytes are kept for reuse, least recently wanted sizes first,
 * sparing the sizes acquired since the previous trim. Returns the bytes given back. A no-op off webgpu. Safe while
 * work is in flight: a free buffer has no pending use in tfjs, and WebGPU defers destruction past submitted work.
 */
export function trimBufferPool(budget = poolBudget.bytes): number {
  const m = bufferManager();
  if (!m) return 0;
  const { bm, t } = m;
  const since = t.lastTrim;
  t.lastTrim = t.tick;
  let free = bm.numBytesAllocated - bm.numBytesUsed;
  if (free <= budget) return 0;
  const stale = [...bm.freeBuffers.entries()]
    .filter(([key, list]) => list.length > 0 && (t.lastUse.get(key) ?? 0) <= since)
    .sort(([a], [b]) => (t.lastUse.get(a) ?? 0) - (t.lastUse.get(b) ?? 0));
  let released = 0;
  for (const [, list] of stale) {
    // Emptied in place, never deleted: releaseBuffer pushes onto the list of its key and expects it to exist.
    while (list.length > 0 && free > budget) {
      const buffer = list.pop()!;
      buffer.destroy();
      bm.numFreeBuffers -= 1;
      bm.numBytesAllocated -= buffer.size;
      free -= buffer.size;
      released += buffer.size;
    }
    if (free <= budget) break;
  }
  return released;
}
