import * as tf from '@tensorflow/tfjs';

/** Positions a cache grows by at a time. */
export const KV_CHUNK = 64;

/**
 * Keys and values of every layer for the tokens seen so far, so each decoding step runs only the new token.
 * Keys are kept transposed ([B, KV, hd, capacity]) for a plain matMul against the queries. Call dispose() when done.
 *
 * The tensors hold `capacity` positions, a multiple of `chunk`, not `length`: a cache rebuilt one token longer at
 * every step gave the GPU's buffer pool (which reuses a freed buffer only at the exact same size, and never frees
 * one) a new size per token, N² memory over a sample. Positions from `length` on are zeros; attention masks them.
 */
export class KVCache {
  /** Tokens cached so far. */
  length = 0;
  batch = 0;
  /** Positions each layer's tensors hold: a multiple of `chunk`, at least `length`. */
  capacity = 0;
  /** [B][S]: 1 for a real token, 0 for padding, over every cached position. */
  keyMask: number[][] = [];
  layers: Array<{ kT: tf.Tensor4D; v: tf.Tensor4D } | undefined> = [];

  constructor(readonly chunk = KV_CHUNK) {
    if (!(Number.isInteger(chunk) && chunk >= 1)) throw new TypeError(`KVCache: chunk must be a positive integer (got ${chunk})`);
  }

  appendMask(rows: number[][], batch: number): void {
    if (this.length === 0) {
      this.batch = batch;
      this.keyMask = rows.map((r) => [...r]);
      return;
    }
    rows.forEach((r, b) => this.keyMask[b]!.push(...r));
  }

  /** Makes room for `total` positions, in whole chunks; called once per pass, before any layer appends. */
  reserve(total: number): number {
    if (total > this.capacity) this.capacity = Math.ceil(total / this.chunk) * this.chunk;
    return this.capacity;
  }

  /**
   * Writes n new positions at `at` (= length before this pass) into layer i: keys kT [B, KV, hd, n], values
   * [B, KV, n, hd]. Returns the layer's whole keys [B, KV, hd, capacity] and values [B, KV, capacity, hd], which the
   * cache keeps (kept out of any enclosing tidy) until the next append or dispose().
   */
  append(i: number, kT: tf.Tensor4D, v: tf.Tensor4D, at: number): { kT: tf.Tensor4D; v: tf.Tensor4D } {
    const C = this.capacity;
    const n = kT.shape[3];
    if (at + n > C) throw new TypeError(`KVCache.append: ${at} + ${n} positions exceed the reserved ${C}`);
    const prev = this.layers[i];
    const next = tf.tidy(() => {
      const kNew = tf.pad(kT, [[0, 0], [0, 0], [0, 0], [at, C - at - n]]) as tf.Tensor4D;
      const vNew = tf.pad(v, [[0, 0], [0, 0], [at, C - at - n], [0, 0]]) as tf.Tensor4D;
      if (!prev) return { kT: kNew, v: vNew };
      const grown = C - prev.kT.shape[3];
      const kOld = grown ? (tf.pad(prev.kT, [[0, 0], [0, 0], [0, 0], [0, grown]]) as tf.Tensor4D) : prev.kT;
      const vOld = grown ? (tf.pad(prev.v, [[0, 0], [0, 0], [0, grown], [0, 0]]) as tf.Tensor4D) : prev.v;
      // The cache is zero from `at` on and the new rows are zero everywhere else: the sum writes them exactly.
      return { kT: tf.add(kOld, kNew) as tf.Tensor4D, v: tf.add(vOld, vNew) as tf.Tensor4D };
    });
    this.layers[i] = { kT: tf.keep(next.kT), v: tf.keep(next.v) };
    if (prev) tf.dispose([prev.kT, prev.v]);
    return this.layers[i]!;
  }

  dispose(): void {
    for (const l of this.layers) if (l) tf.dispose([l.kT, l.v]);
    this.layers = [];
    this.length = 0;
    this.capacity = 0;
    this.keyMask = [];
  }
}

export const createKVCache = (chunk?: number): KVCache => new KVCache(chunk);
