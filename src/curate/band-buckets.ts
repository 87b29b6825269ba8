/**
 * LSH buckets of all bands in one table: (band, key) → the items added under it, each with a small number of its
 * own (MinHashIndex keeps the item's set size there, so its size filter reads nothing else). Typed arrays rather
 * than one Map per band: at 1M items × 18 bands a Map would pass V8's 16.7M-entry limit and cost several times the
 * memory. Keys sit in an open-addressed table of (digest, newest entry) pairs, so a lookup reads one cache line and
 * a bucket's chain holds only its own items. Two keys with the same 32-bit digest share a bucket: that only adds
 * candidates, which the caller verifies anyway.
 */
export class BandBuckets {
  /** Per slot: digest of (band, key), then its newest entry (1-based; 0 = empty slot). */
  private slots = new Int32Array(2 << 12);
  private mask = (1 << 12) - 1;
  private keys = 0;
  /** Per entry: item, next older entry of the same bucket (1-based; 0 ends), the caller's number. */
  private entries = new Int32Array(3 << 12);
  private count = 0;

  /** The newest entry added under (band, key), or 0 when none; walk on with `next`, read with `item` and `aux`. */
  first(band: number, key: number): number {
    const d = digest(band, key);
    const slots = this.slots;
    for (let s = d & this.mask; ; s = (s + 1) & this.mask) {
      const head = slots[s * 2 + 1]!;
      if (head === 0 || slots[s * 2] === d) return head;
    }
  }

  /** The next older entry of the same bucket, or 0. */
  next(entry: number): number {
    return this.entries[(entry - 1) * 3 + 1]!;
  }

  item(entry: number): number {
    return this.entries[(entry - 1) * 3]!;
  }

  aux(entry: number): number {
    return this.entries[(entry - 1) * 3 + 2]!;
  }

  add(band: number, key: number, item: number, aux = 0): void {
    // At most 3/4 full, so a miss ends after a probe or two.
    if ((this.keys + 1) * 4 > (this.mask + 1) * 3) this.grow();
    if ((this.count + 1) * 3 > this.entries.length) this.entries = growInt32(this.entries, (this.count + 1) * 3, 1.5);
    const d = digest(band, key);
    const slots = this.slots;
    let s = d & this.mask;
    while (slots[s * 2 + 1] !== 0 && slots[s * 2] !== d) s = (s + 1) & this.mask;
    const o = this.count * 3;
    this.entries[o] = item;
    this.entries[o + 1] = slots[s * 2 + 1]!;
    this.entries[o + 2] = aux;
    if (slots[s * 2 + 1] === 0) {
      slots[s * 2] = d;
      this.keys++;
    }
    slots[s * 2 + 1] = ++this.count;
  }

  /** Doubles the slots and re-places every key with its chain. */
  private grow(): void {
    const old = this.slots;
    this.mask = this.mask * 2 + 1;
    const slots = new Int32Array((this.mask + 1) * 2);
    for (let i = 0; i < old.length; i += 2) {
      if (old[i + 1] === 0) continue;
      const d = old[i]!;
      let s = d & this.mask;
      while (slots[s * 2 + 1] !== 0) s = (s + 1) & this.mask;
      slots[s * 2] = d;
      slots[s * 2 + 1] = old[i + 1]!;
    }
    this.slots = slots;
  }
}

function digest(band: number, key: number): number {
  let h = Math.imul(key ^ Math.imul(band + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A copy of `a` with room for at least `need` elements, growing by `factor` (2 by default). */
export function growInt32(a: Int32Array<ArrayBuffer>, need = a.length + 1, factor = 2): Int32Array<ArrayBuffer> {
  let n = Math.max(1, a.length);
  while (n < need) n = Math.ceil(n * factor);
  const b = new Int32Array(n);
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
