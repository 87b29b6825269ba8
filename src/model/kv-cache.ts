import * as tf from '@tensorflow/tfjs';

/**
 * Keys and values of every layer for the tokens seen so far, so each decoding step runs only the new token.
 * Keys are kept transposed ([B, KV, hd, S]) for a plain matMul against the queries. Call dispose() when done.
 */
export class KVCache {
  /** Tokens cached so far. */
  length = 0;
  batch = 0;
  /** [B][S]: 1 for a real token, 0 for padding, over every cached position. */
  keyMask: number[][] = [];
  layers: Array<{ kT: tf.Tensor4D; v: tf.Tensor4D } | undefined> = [];

  appendMask(rows: number[][], batch: number): void {
    if (this.length === 0) {
      this.batch = batch;
      this.keyMask = rows.map((r) => [...r]);
      return;
    }
    rows.forEach((r, b) => this.keyMask[b]!.push(...r));
  }

  setLayer(i: number, kT: tf.Tensor4D, v: tf.Tensor4D): void {
    const prev = this.layers[i];
    this.layers[i] = { kT, v };
    if (prev) tf.dispose([prev.kT, prev.v]);
  }

  dispose(): void {
    for (const l of this.layers) if (l) tf.dispose([l.kT, l.v]);
    this.layers = [];
    this.length = 0;
    this.keyMask = [];
  }
}

export const createKVCache = (): KVCache => new KVCache();
