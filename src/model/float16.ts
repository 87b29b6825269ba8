/** IEEE half and bfloat16 ⇄ float32 conversions for safetensors storage (both round to nearest even on write). */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half += 1; // may carry into the exponent, which is correct
  return sign | half;
}

export function bf16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}

export function floatToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // keep NaN a NaN
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Decodes little-endian F16 bytes into float32 via a 65,536-entry table (a 7B checkpoint has billions of values). */
let halfTable: Float32Array | null = null;
export function decodeF16(bytes: Uint8Array, out: Float32Array): void {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  const t = halfTable;
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = t[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
}

/** Every platform Node runs on is little-endian, as safetensors is; checked once rather than assumed. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function decodeBf16(bytes: Uint8Array, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const n = out.length;
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    // Whole 16-bit words at a time: about 3x faster than assembling each from two bytes (merge and load time).
    const words = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = words[i]! << 16;
    return;
  }
  for (let i = 0; i < n; i++) bits[i] = (bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16;
}

/** float32 values → BF16 words, rounded to nearest even (floatToBf16 over a whole array, without a call per value). */
export function encodeBf16(data: Float32Array, out: Uint8Array): void {
  const n = data.length;
  const src = new Uint32Array(data.buffer, data.byteOffset, n);
  if (!LITTLE_ENDIAN || out.byteOffset % 2 !== 0) {
    for (let i = 0; i < n; i++) {
      const h = floatToBf16(data[i]!);
      out[2 * i] = h & 0xff;
      out[2 * i + 1] = h >> 8;
    }
    return;
  }
  const words = new Uint16Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    words[i] = (x & 0x7f800000) === 0x7f800000 && x & 0x7fffff ? (x >>> 16) | 0x40 : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
}
