/**
 * mulberry32: a tiny seeded PRNG, so a given seed reproduces its run (example sampling, token sampling, synthetic
 * data). The trainer uses its own sfc32 (src/train/rng.ts) because a checkpoint must store the whole state.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** k distinct elements, uniformly (partial Fisher–Yates on indices). */
export function sampleWithoutReplacement<T>(pool: readonly T[], k: number, random: () => number): T[] {
  const n = pool.length;
  const take = Math.min(k, n);
  if (take === 0) return [];
  const idx = new Map<number, number>();
  const out: T[] = [];
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(random() * (n - i));
    const vj = idx.get(j) ?? j;
    idx.set(j, idx.get(i) ?? i);
    out.push(pool[vj]!);
  }
  return out;
}
