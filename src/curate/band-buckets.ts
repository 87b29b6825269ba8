/**
 * LSH buckets of all bands in one chained hash table: (band, key) → the items added under it. Typed arrays rather
 * than one Map per band: at 1M items × 22 bands a Map would pass V8's 16.7M-entry limit and cost several times
 * the memory. An entry holds its item, the next entry of its slot and a 32-bit digest of (band, key); entries of
 * other keys sharing the slot are skipped by digest. Two keys with the same digest only add a candidate, which
 * the caller verifies anyway.
 */
export class BandBuckets {
  private mask = (1 << 12) - 1;
  /** Per slot: the newest entry (1-based; 0 = none). */
  private heads = new Int32Array(this.mask + 1);
  /** Per entry: item, next entry of the same slot (1-based; 0 ends), digest. */
  private entries = new Int32Array(3 << 12);
  private count = 0;

  /** Calls `visit` with every item added under (band, key), newest first. */
  forEach(band: number, key: number, visit: (item: number) => void): void {
    const d = digest(band, key);
    const entries = this.entries;
    let e = this.heads[d & this.mask]!;
    while (e !== 0) {
      const o = (e - 1) * 3;
      if (entries[o + 2] === d) visit(entries[o]!);
      e = entries[o + 1]!;
    }
  }

  add(band: number, key: number, item: number): void {
    if (this.count > this.mask) this.grow();
    if ((this.count + 1) * 3 > this.entries.length) this.entries = growInt32(this.entries);
    const d = digest(band, key);
    const slot = d & this.mask;
    const o = this.count * 3;
    this.entries[o] = item;
    this.entries[o + 1] = this.heads[slot]!;
    this.entries[o + 2] = d;
    this.heads[slot] = ++this.count;
  }

  /** Doubles the slots and relinks every entry, oldest first so each chain stays newest first. */
  private grow(): void {
    this.mask = this.mask * 2 + 1;
    this.heads = new Int32Array(this.mask + 1);
    const entries = this.entries;
    for (let i = 0; i < this.count; i++) {
      const slot = entries[i * 3 + 2]! & this.mask;
      entries[i * 3 + 1] = this.heads[slot]!;
      this.heads[slot] = i + 1;
    }
  }
}

function digest(band: number, key: number): number {
  let h = Math.imul(key ^ Math.imul(band + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export function growInt32(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

export function growUint32(a: Uint32Array<ArrayBuffer>, need: number): Uint32Array<ArrayBuffer> {
  let n = a.length;
  while (n < need) n *= 2;
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}
