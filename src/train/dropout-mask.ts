import * as tf from '@tensorflow/tfjs';
import { Rng } from './rng.js';

/**
 * Inverted-dropout masks (0 or 1/(1−p)) as a pure function of (seed, element index), computable in JavaScript and
 * with tensor ops to the same bits. Why not tf.randomUniform: in tfjs 4.22 it fills a buffer in JavaScript and
 * uploads it (no backend draws on the device), which on a GPU costs one host→device copy per adapted module and
 * pass. Why not sfc32 (the previous mask): a sequential generator has no per-element form a GPU can evaluate.
 *
 * The hash works on int32 with every product below 2^31 (residues modulo a prime P < √2^31), so WGSL's i32, wasm's
 * int32 kernels and JavaScript doubles all compute it exactly: wasm and WebGPU runs draw identical masks, and a
 * resumed run or another worker draws the same ones. Element i = x + P·y (x = i mod P) goes through
 *   h = ((x·m1 + s1) mod P + y·m2) mod P;  h = (h² + x) mod P;  h = (h·m3 + s2) mod P;
 *   h = (h² + (x + y) mod P) mod P;  h = (h·m4 + s3) mod P;  keep ⇔ h ≥ round(p·P)
 * with m1..m4 ∈ [1, P) and s1..s3 ∈ [0, P) drawn from the seed. The squarings mix; the index re-enters after each
 * so the 2-to-1 squaring does not halve the outputs. Rows far apart do not repeat (y enters twice, nonlinearly).
 */
export const MASK_PRIME = 46337;

interface MaskKeys {
  m1: number;
  m2: number;
  m3: number;
  m4: number;
  s1: number;
  s2: number;
  s3: number;
  threshold: number;
  keep: number;
}

function maskKeys(p: number, seed: number): MaskKeys {
  const rng = new Rng(seed);
  const mult = () => 1 + Math.floor(rng.next() * (MASK_PRIME - 1));
  const add = () => Math.floor(rng.next() * MASK_PRIME);
  return { m1: mult(), m2: mult(), m3: mult(), m4: mult(), s1: add(), s2: add(), s3: add(), threshold: Math.round(p * MASK_PRIME), keep: Math.fround(1 / (1 - p)) };
}

/** Largest element count whose index split (x, y) keeps every intermediate below 2^31. */
const MAX_ELEMENTS = MASK_PRIME * 40000;

function checkSize(n: number): void {
  if (n > MAX_ELEMENTS) throw new RangeError(`dropout mask of ${n} elements exceeds the hash's range (${MAX_ELEMENTS})`);
}

/** The mask computed in JavaScript (fast on CPU backends: no kernel launches). */
export function dropoutMaskData(n: number, p: number, seed: number): Float32Array {
  checkSize(n);
  const P = MASK_PRIME;
  const k = maskKeys(p, seed);
  const out = new Float32Array(n);
  let x = 0;
  let y = 0;
  for (let i = 0; i < n; i++) {
    let h = (((x * k.m1 + k.s1) % P) + y * k.m2) % P;
    h = (h * h + x) % P;
    h = (h * k.m3 + k.s2) % P;
    h = (h * h + ((x + y) % P)) % P;
    h = (h * k.m4 + k.s3) % P;
    out[i] = h >= k.threshold ? k.keep : 0;
    if (++x === P) {
      x = 0;
      y += 1;
    }
  }
  return out;
}

/**
 * Element indices split as (i mod P, ⌊i / P⌋), uploaded once and grown on demand: the only host→device traffic
 * of device-side masks.
 */
export class MaskIndex {
  private x: tf.Tensor1D | null = null;
  private y: tf.Tensor1D | null = null;
  private size = 0;

  /** [x, y] for the first n elements (views the caller must dispose). */
  take(n: number): [tf.Tensor1D, tf.Tensor1D] {
    checkSize(n);
    if (n > this.size) {
      this.dispose();
      const size = Math.max(n, 2 * this.size);
      const xs = new Int32Array(size);
      const ys = new Int32Array(size);
      for (let i = 0; i < size; i++) {
        xs[i] = i % MASK_PRIME;
        ys[i] = Math.floor(i / MASK_PRIME);
      }
      this.x = tf.keep(tf.tensor1d(xs, 'int32'));
      this.y = tf.keep(tf.tensor1d(ys, 'int32'));
      this.size = size;
    }
    const x = this.x as tf.Tensor1D;
    const y = this.y as tf.Tensor1D;
    return n === this.size ? [tf.clone(x), tf.clone(y)] : [tf.slice(x, 0, n), tf.slice(y, 0, n)];
  }

  dispose(): void {
    this.x?.dispose();
    this.y?.dispose();
    this.x = this.y = null;
    this.size = 0;
  }
}

/** The same mask computed on the backend from cached indices (for GPU backends: nothing is uploaded per mask). */
export function dropoutMaskTensor(shape: [number, number], p: number, seed: number, index: MaskIndex): tf.Tensor2D {
  const n = shape[0] * shape[1];
  const k = maskKeys(p, seed);
  return tf.tidy(() => {
    const P = tf.scalar(MASK_PRIME, 'int32');
    const c = (v: number) => tf.scalar(v, 'int32');
    const mod = (t: tf.Tensor) => tf.mod(t, P);
    const [x, y] = index.take(n);
    let h = mod(tf.add(mod(tf.add(tf.mul(x, c(k.m1)), c(k.s1))), tf.mul(y, c(k.m2))));
    h = mod(tf.add(tf.mul(h, h), x));
    h = mod(tf.add(tf.mul(h, c(k.m3)), c(k.s2)));
    h = mod(tf.add(tf.mul(h, h), mod(tf.add(x, y))));
    h = mod(tf.add(tf.mul(h, c(k.m4)), c(k.s3)));
    const kept = tf.cast(tf.greaterEqual(h, c(k.threshold)), 'float32');
    return tf.reshape(tf.mul(kept, tf.scalar(k.keep)), shape) as tf.Tensor2D;
  });
}
