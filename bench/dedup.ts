/**
 * Duplicate removal and decontamination at scale. One figure per mode:
 *   node --import tsx bench/dedup.ts [count]                 ROUGE-L (default 52,000) against Alpaca's pairwise loop
 *   node --import tsx bench/dedup.ts minhash [count]         MinHash-LSH on count synthetic instructions (default
 *                                                            1,000,000), then recall and precision against exact
 *                                                            Jaccard on a 20,000-item sample
 *   node --import tsx bench/dedup.ts semantic [count] [dim]  the local work of semantic dedup (default 200,000 × 768
 *                                                            synthetic vectors, 5% paraphrases), its recall against
 *                                                            all pairs for 200 sampled paraphrases at full scale,
 *                                                            and on the first 5,000 clustered as a large set
 *   node --import tsx bench/dedup.ts decontaminate [n] [m]   n samples (default 1,000,000) against m benchmark items
 *                                                            (default 100,000), 13-grams
 * Times are wall-clock and CPU seconds of this process, and the peak resident memory; the synthetic data is made
 * before the clock starts.
 */
import { performance } from 'node:perf_hooks';
import { RougeIndex } from '../src/curate/rouge-index.js';
import { rougeTokens } from '../src/curate/rouge-tokenize.js';
import { lcsTable, rougeLF1 } from '../src/curate/bit-lcs.js';
import { MinHashIndex } from '../src/curate/minhash-index.js';
import { shingleSet } from '../src/curate/shingles.js';
import { semanticDuplicates } from '../src/curate/semantic-dedup.js';
import { rowProductsKernel } from '../src/curate/row-products.js';
import { ContaminationIndex } from '../src/curate/contamination-index.js';
import { syntheticInstructions } from '../tests/helpers/synthetic-instructions.js';
import { curationConfigSchema } from '../src/config/curation.js';
import { seededRandom } from '../src/random.js';

const mode = Number.isFinite(Number(process.argv[2] ?? '0')) ? 'rouge' : process.argv[2]!;
// Counts follow the mode's name, or stand alone for the ROUGE-L default.
const arg = (i: number, d: number) => Number(process.argv[(mode === 'rouge' ? 2 : 3) + i] ?? d);
const defaults = curationConfigSchema.parse({}).dedup;

function timed<T>(fn: () => T): { value: T; seconds: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}
const rssGb = () => (process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2);

if (mode === 'rouge') rouge(arg(0, 52000));
else if (mode === 'minhash') minhash(arg(0, 1_000_000));
else if (mode === 'semantic') semantic(arg(0, 200_000), arg(1, 768));
else if (mode === 'decontaminate') decontaminate(arg(0, 1_000_000), arg(1, 100_000));
else throw new TypeError(`bench/dedup.ts: unknown mode "${mode}" (rouge, minhash, semantic or decontaminate)`);

function minhash(count: number): void {
  const items = syntheticInstructions(count, { seed: 42, nearDuplicateShare: 0.04 });
  const { minhashThreshold: threshold, minhashNgram: ngram, minhashSeed: seed } = defaults;
  const run = (n: number) => {
    const index = new MinHashIndex({ threshold, ngram, seed, topSimilar: 0, similarMin: threshold });
    const dup: boolean[] = [];
    for (let i = 0; i < n; i++) dup.push(index.checkAndAdd(String(i), items[i]!, '').duplicateOf !== null);
    return { dup, index };
  };
  const all = timed(() => run(count));
  const removed = all.value.dup.filter(Boolean).length;
  const { bands, rows } = all.value.index.bands;
  console.log(`minhash: ${count} items, threshold ${threshold}, word ${ngram}-grams, ${bands} bands × ${rows} rows; removed ${removed}; ${all.seconds.toFixed(1)} s (cpu ${all.cpu.toFixed(1)} s); candidates ${all.value.index.stats.candidates}; peak rss ${rssGb()} GB`);
  // Exact Jaccard in arrival order on a sample, through an inverted index (every pair sharing a shingle is scored).
  const sampleN = Math.min(20_000, count);
  const exact = timed(() => {
    const postings = new Map<number, number[]>();
    const sets: Uint32Array[] = [];
    const counts = new Map<number, number>();
    return items.slice(0, sampleN).map((text) => {
      const s = shingleSet(text, ngram);
      counts.clear();
      for (const x of s) for (const k of postings.get(x) ?? []) counts.set(k, (counts.get(k) ?? 0) + 1);
      for (const [k, c] of counts) if (c / (s.length + sets[k]!.length - c) >= threshold) return true;
      const k = sets.length;
      sets.push(s);
      for (const x of s) (postings.get(x) ?? postings.set(x, []).get(x)!).push(k);
      return false;
    });
  });
  const lsh = run(sampleN).dup;
  let both = 0;
  let onlyExact = 0;
  let onlyLsh = 0;
  exact.value.forEach((e, i) => {
    if (e && lsh[i]) both++;
    else if (e) onlyExact++;
    else if (lsh[i]) onlyLsh++;
  });
  const recall = both / Math.max(1, both + onlyExact);
  const precision = both / Math.max(1, both + onlyLsh);
  console.log(`exact Jaccard on the first ${sampleN}: ${both + onlyExact} duplicates (${exact.seconds.toFixed(1)} s); MinHash found ${both + onlyLsh}: recall ${recall.toFixed(4)}, precision ${precision.toFixed(4)}`);
  console.log(`minhash ${count} items: ${all.seconds.toFixed(1)} s wall, ${all.cpu.toFixed(1)} s cpu, peak rss ${rssGb()} GB; recall ${recall.toFixed(4)} / precision ${precision.toFixed(4)} vs exact Jaccard on ${sampleN}`);
}

function semantic(count: number, dim: number): void {
  // Topics as random directions; each item is its topic plus noise (cosine ~0.4 between items of a topic), and 5%
  // are paraphrases: an earlier item plus a little noise (cosine ~0.99).
  const rnd = seededRandom(11);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const topics = Array.from({ length: 2000 }, () => Float32Array.from({ length: dim }, gauss));
  const vectors: Float32Array[] = [];
  const planted: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0 && rnd() < 0.05) {
      const src = vectors[Math.floor(rnd() * i)]!;
      vectors.push(Float32Array.from(src, (x) => x + 0.25 * gauss()));
      planted.push(i);
    } else {
      const t = topics[Math.floor(rnd() * topics.length)]!;
      vectors.push(Float32Array.from(t, (x) => x + 1.2 * gauss()));
    }
  }
  const order = vectors.map((_, i) => i);
  const threshold = defaults.semanticThreshold;
  const r = timed(() => semanticDuplicates(vectors, order, { threshold }));
  const removed = r.value.filter(Boolean).length;
  const rss = rssGb();
  // Exact all pairs at full scale, on a sample: for sampled paraphrases, whether any earlier item the clustered run
  // kept is within the threshold (what comparing all pairs would find), against whether the run found one.
  const keptBefore = new Int32Array(count);
  let k = 0;
  for (let i = 0; i < count; i++) {
    keptBefore[i] = k;
    if (!r.value[i]) k++;
  }
  const keptIds: number[] = [];
  r.value.forEach((v, i) => v || keptIds.push(i));
  const pick = seededRandom(5);
  const sampled = Array.from({ length: Math.min(200, planted.length) }, () => planted[Math.floor(pick() * planted.length)]!);
  const unit = (v: Float32Array) => {
    let s = 0;
    for (const x of v) s += x * x;
    return 1 / Math.sqrt(s);
  };
  const norms = vectors.map(unit);
  const full = timed(() => {
    let truth = 0;
    let found = 0;
    for (const i of sampled) {
      let hit = false;
      for (let m = 0; m < keptBefore[i]! && !hit; m++) {
        const j = keptIds[m]!;
        let s = 0;
        const a = vectors[i]!;
        const b = vectors[j]!;
        for (let t = 0; t < dim; t++) s += a[t]! * b[t]!;
        hit = s * norms[i]! * norms[j]! >= threshold;
      }
      if (hit) {
        truth++;
        if (r.value[i]) found++;
      }
    }
    return { truth, found };
  });
  const fullRecall = full.value.found / Math.max(1, full.value.truth);
  // Exact all pairs on the first items, clustered there as if they were a large set.
  const sub = Math.min(5000, count);
  const subVectors = vectors.slice(0, sub);
  const exact = semanticDuplicates(subVectors, order.slice(0, sub), { threshold, exactLimit: Infinity });
  const clustered = semanticDuplicates(subVectors, order.slice(0, sub), { threshold, exactLimit: 0 });
  const both = exact.filter((e, i) => e && clustered[i]).length;
  const recall = both / Math.max(1, exact.filter(Boolean).length);
  console.log(`semantic ${count} × ${dim}: removed ${removed} (${planted.length} planted paraphrases); all pairs on the first ${sub}, clustered as a large set: recall ${recall.toFixed(4)} (${exact.filter(Boolean).length} paraphrases)`);
  console.log(`full-scale check (${full.seconds.toFixed(1)} s): of ${sampled.length} sampled paraphrases, ${full.value.truth} have a kept item within the threshold (all pairs); the clustered run found ${full.value.found}`);
  console.log(`semantic local work ${count} × ${dim} (products on ${rowProductsKernel().name}; ALPACA_FORGE_NO_NATIVE=1 for JS): ${r.seconds.toFixed(1)} s wall, ${r.cpu.toFixed(1)} s cpu, peak rss ${rss} GB; recall ${fullRecall.toFixed(4)} vs all pairs on ${sampled.length} sampled paraphrases, ${recall.toFixed(4)} on the first ${sub}`);
}

function decontaminate(count: number, benchItems: number): void {
  const samples = syntheticInstructions(count, { seed: 42, nearDuplicateShare: 0 });
  // Benchmark questions in words of their own (a test set shares no template with the generated data), so every hit
  // is a planted one and any other would be a false match of the hashed n-grams.
  const rnd = seededRandom(99);
  const word = () => `q${Math.floor(rnd() * 50_000).toString(36)}`;
  const questions = Array.from({ length: benchItems }, () => Array.from({ length: 20 + Math.floor(rnd() * 30) }, word).join(' ') + '?');
  // Plant 1,000 benchmark questions in outputs.
  const planted = Math.min(1000, count);
  const outputs = samples.map((_, i) => (i % Math.floor(count / planted) === 0 ? `As asked: ${questions[(i * 7) % benchItems]}` : `A plain answer to item ${i}.`));
  const build = timed(() => new ContaminationIndex([{ path: 'bench.jsonl', name: 'bench.jsonl', items: questions.map((q, i) => ({ position: i + 1, unit: 'line' as const, texts: [q] })) }], { ngram: 13, overlap: null }));
  const scan = timed(() => {
    let hits = 0;
    for (let i = 0; i < count; i++) if (build.value.check(String(i), [samples[i]!, '', outputs[i]!])) hits++;
    return hits;
  });
  console.log(`decontaminate: ${benchItems} benchmark items → ${build.value.ngrams} 13-grams in ${build.seconds.toFixed(1)} s; ${count} samples scanned in ${scan.seconds.toFixed(1)} s; ${scan.value} contaminated (${outputs.filter((o) => o.startsWith('As asked')).length} planted)`);
  console.log(`decontaminate ${count} samples vs ${benchItems} items: ${(build.seconds + scan.seconds).toFixed(1)} s wall, ${(build.cpu + scan.cpu).toFixed(1)} s cpu, peak rss ${rssGb()} GB; ${scan.value} of ${planted} planted found`);
}

function rouge(count: number): void {
  // The defaults of forge.yaml: threshold 0.7, top 3 similar items recorded down to F1 0.6.
  const { rougeThreshold: threshold, topSimilar, similarMin } = defaults;
  const seeds = syntheticInstructions(175, { seed: 7, nearDuplicateShare: 0 });
  const items = syntheticInstructions(count, { seed: 42, nearDuplicateShare: 0.04 });
  const fast = (n: number) => {
    const r = timed(() => {
      const index = new RougeIndex({ threshold, topSimilar, similarMin });
      seeds.forEach((s, i) => index.add(`seed:${i}`, s));
      const kept: number[] = [];
      for (let i = 0; i < n; i++) if (index.checkAndAdd(String(i), items[i]!).duplicateOf === null) kept.push(i);
      return { kept, index };
    });
    return { ...r.value, seconds: r.seconds, cpu: r.cpu };
  };
  const bruteForce = (n: number) =>
    timed(() => {
      const pool = seeds.map(rougeTokens);
      const kept: number[] = [];
      for (let i = 0; i < n; i++) {
        const toks = rougeTokens(items[i]!);
        let max = 0;
        for (const other of pool) max = Math.max(max, rougeLF1(lcsTable(toks, other), toks.length, other.length));
        if (max > threshold) continue;
        pool.push(toks);
        kept.push(i);
      }
      return kept;
    });
  const all = fast(count);
  const s = all.index.stats;
  console.log(
    `fast: ${count} items + ${seeds.length} seeds, kept ${all.kept.length}, ${all.seconds.toFixed(2)} s (cpu ${all.cpu.toFixed(2)} s); ` +
      `candidates ${s.candidates}, position-pruned ${s.positionPruned}, overlap-pruned ${s.overlapPruned}, pairs verified ${s.pairsVerified}, rebuilds ${s.rebuilds}`,
  );
  const bfCount = Math.min(3000, count);
  const bf = bruteForce(bfCount);
  const small = fast(bfCount);
  const same = JSON.stringify(bf.value) === JSON.stringify(small.kept);
  console.log(`brute force ${bfCount}: ${bf.seconds.toFixed(1)} s, fast ${bfCount}: ${small.seconds.toFixed(3)} s, same kept set: ${same}`);
  if (!same) process.exitCode = 1;
  // The pairwise loop is quadratic in the items kept, so its 52,000-item time is extrapolated from the 3,000 measured.
  const extrapolated = bf.seconds * (count / bfCount) ** 2;
  console.log(
    `dedup ${count} items: ${all.seconds.toFixed(2)} s, ${s.pairsVerified} pairs verified (brute force ${bfCount} items: ${bf.seconds.toFixed(1)} s, ${Math.round(bf.seconds / small.seconds)}x on the same items; extrapolated to ${count}: ~${Math.round(extrapolated)} s, ~${Math.round(extrapolated / all.seconds)}x)`,
  );
}
