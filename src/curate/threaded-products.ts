import { startModuleWorker } from '../worker-thread.js';
import { jsRowProducts, type RowProducts } from './js-row-products.js';

/**
 * The JS row-products kernel on several threads, called synchronously. The operands are copied into shared memory,
 * the rows of `a` are cut into chunks, and the calling thread and the workers each take the next chunk until none
 * is left (the caller blocks in Atomics.wait for the last ones, which Node allows on its main thread). A chunk's
 * rows are computed exactly as jsRowProducts computes them, so the result equals one thread's to the bit. Workers
 * that have not started yet simply take no chunks: the caller does them all, so nothing waits on a worker's boot.
 */

/** Words of the control array. */
const COUNTER = 0; // job generation << 12 | next chunk to take
const DONE = 1; // chunks finished in this job
const A_ROWS = 2;
const B_ROWS = 3;
const DIM = 4;
const CHUNK_ROWS = 5;
const CHUNKS = 6;
const BY_WORKERS = 7; // chunks the workers have computed, ever (for tests and benches)
const CHUNK_BITS = 12;
const CHUNK_MASK = (1 << CHUNK_BITS) - 1;
/** Floats each shared operand holds (16 MB); a larger call runs on the calling thread alone. */
const CAPACITY = 1 << 22;
/** Below this many multiply-adds a call is not worth waking the workers for. */
const SMALL = 1 << 18;

export interface SharedOperands {
  control: SharedArrayBuffer;
  a: SharedArrayBuffer;
  b: SharedArrayBuffer;
  out: SharedArrayBuffer;
}

interface Views {
  ctl: Int32Array;
  a: Float32Array;
  b: Float32Array;
  out: Float32Array;
}

function sharedViews(s: SharedOperands): Views {
  return { ctl: new Int32Array(s.control), a: new Float32Array(s.a), b: new Float32Array(s.b), out: new Float32Array(s.out) };
}

/**
 * Takes chunks of the current job and computes them until none is left; returns the job's counter word as last
 * seen. A taker that reads a job's shape and then loses the compare-exchange (the job moved on) computes nothing.
 */
function takeChunks(v: Views, worker: boolean): number {
  for (;;) {
    const word = Atomics.load(v.ctl, COUNTER);
    const chunks = v.ctl[CHUNKS]!;
    const c = word & CHUNK_MASK;
    if (c >= chunks) return word;
    const aRows = v.ctl[A_ROWS]!;
    const bRows = v.ctl[B_ROWS]!;
    const d = v.ctl[DIM]!;
    const per = v.ctl[CHUNK_ROWS]!;
    if (Atomics.compareExchange(v.ctl, COUNTER, word, word + 1) !== word) continue;
    const r0 = c * per;
    const m = Math.min(per, aRows - r0);
    jsRowProducts(v.a.subarray(r0 * d), m, v.b, bRows, d, v.out.subarray(r0 * bRows));
    if (worker) Atomics.add(v.ctl, BY_WORKERS, 1);
    Atomics.add(v.ctl, DONE, 1);
    Atomics.notify(v.ctl, DONE);
  }
}

/** A worker's life: wait for a job, take its chunks, wait for the next. */
export function serveChunks(s: SharedOperands): never {
  const v = sharedViews(s);
  for (;;) {
    const seen = takeChunks(v, true);
    Atomics.wait(v.ctl, COUNTER, seen);
  }
}

let pool: { views: Views; generation: number } | null = null;

function startPool(threads: number): NonNullable<typeof pool> {
  const shared: SharedOperands = {
    control: new SharedArrayBuffer(64),
    a: new SharedArrayBuffer(CAPACITY * 4),
    b: new SharedArrayBuffer(CAPACITY * 4),
    out: new SharedArrayBuffer(CAPACITY * 4),
  };
  for (let t = 0; t < threads; t++) {
    const w = startModuleWorker(import.meta.url, 'row-products-worker', shared);
    // Idle workers sleep in Atomics.wait; they must not keep the process alive, and a worker that fails to start
    // only means the caller computes alone.
    w.unref();
    w.on('error', () => {});
  }
  return { views: sharedViews(shared), generation: 0 };
}

/** Chunks the pool's workers have computed so far (0 before the pool starts): proof they share the work. */
export function chunksByWorkers(): number {
  return pool ? Atomics.load(pool.views.ctl, BY_WORKERS) : 0;
}

/** Row products on the calling thread and `workers` more. */
export function threadedRowProducts(workers: number): RowProducts {
  return (a, aRows, b, bRows, d, out) => {
    if (workers < 1 || aRows * bRows * d < SMALL || aRows * d > CAPACITY || bRows * d > CAPACITY || aRows * bRows > CAPACITY) return jsRowProducts(a, aRows, b, bRows, d, out);
    pool ??= startPool(workers);
    const v = pool.views;
    v.a.set(a.subarray(0, aRows * d));
    v.b.set(b.subarray(0, bRows * d));
    // About four chunks per thread, an even number of rows each (the kernel works in row pairs).
    const per = Math.max(2, 2 * Math.ceil(aRows / (8 * (workers + 1))));
    const chunks = Math.ceil(aRows / per);
    v.ctl[A_ROWS] = aRows;
    v.ctl[B_ROWS] = bRows;
    v.ctl[DIM] = d;
    v.ctl[CHUNK_ROWS] = per;
    v.ctl[CHUNKS] = chunks;
    Atomics.store(v.ctl, DONE, 0);
    pool.generation = (pool.generation + 1) % (1 << (31 - CHUNK_BITS)) || 1;
    // The shape is written before the counter names the new job, so a taker that sees the job sees its shape.
    Atomics.store(v.ctl, COUNTER, pool.generation << CHUNK_BITS);
    Atomics.notify(v.ctl, COUNTER);
    takeChunks(v, false);
    for (let done = Atomics.load(v.ctl, DONE); done < chunks; done = Atomics.load(v.ctl, DONE)) Atomics.wait(v.ctl, DONE, done);
    out.set(v.out.subarray(0, aRows * bRows));
  };
}
