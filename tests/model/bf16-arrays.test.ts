import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bf16ToFloat, decodeBf16, encodeBf16, floatToBf16 } from '../../src/model/float16.js';

// The whole-array BF16 codecs (merge writes and every load reads billions of values through them) must give
// exactly what the per-value functions give, on aligned and unaligned buffers alike.
const specials = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc00001, 0x3f808000, 0x3f818000, 0x3f80ffff, 0xff7fffff, 0x00000001, 0x807fffff];

function sampleBits(n: number): Uint32Array {
  const bits = new Uint32Array(n);
  bits.set(specials);
  let s = 99;
  for (let i = specials.length; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    bits[i] = (s ^ (s << 11)) >>> 0;
  }
  return bits;
}

test('encodeBf16 rounds every value as floatToBf16 does (ties to even, infinities, NaNs kept NaN)', () => {
  const bits = sampleBits(20_000);
  const data = new Float32Array(bits.buffer);
  for (const offset of [0, 1]) {
    const out = new Uint8Array(2 * data.length + offset).subarray(offset);
    encodeBf16(data, out);
    for (let i = 0; i < data.length; i++) assert.equal(out[2 * i]! | (out[2 * i + 1]! << 8), floatToBf16(data[i]!), `value ${i} (bits ${bits[i]!.toString(16)}), offset ${offset}`);
  }
});

test('decodeBf16 widens every word as bf16ToFloat does, aligned or not', () => {
  const words = new Uint16Array(sampleBits(10_000).buffer);
  for (const offset of [0, 1]) {
    const bytes = new Uint8Array(2 * words.length + offset).subarray(offset);
    bytes.set(new Uint8Array(words.buffer));
    const out = new Float32Array(words.length);
    decodeBf16(bytes, out);
    for (let i = 0; i < words.length; i++) assert.ok(Object.is(out[i], bf16ToFloat(words[i]!)) || (Number.isNaN(out[i]) && Number.isNaN(bf16ToFloat(words[i]!))), `word ${i}, offset ${offset}`);
  }
});
