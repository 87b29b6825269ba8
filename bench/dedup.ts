/**
 * Near-duplicate removal at Alpaca scale: 52,000 synthetic instructions (4% planted near-duplicates) after 175
 * seeds, with the default settings (ROUGE-L threshold 0.7, top-3 similar items down to F1 0.6), through
 * RougeIndex; then the pairwise loop Alpaca ran (every item against every kept item, DP LCS, rouge_score's F1) on
 * the first 3,000, which must keep exactly the same items. Times are wall-clock and CPU seconds of this process.
 * Run: node --import tsx bench/dedup.ts [count]
 */
import { performance } from 'node:perf_hooks';
import { RougeIndex } from '../src/curate/rouge-index.js';
import { rougeTokens } from '../src/curate/rouge-tokenize.js';
import { lcsTable, rougeLF1 } from '../src/curate/bit-lcs.js';
import { syntheticInstructions } from '../tests/helpers/synthetic-instructions.js';
import { curationConfigSchema } from '../src/config/curation.js';

const count = Number(process.argv[2] ?? 52000);
// The defaults of forge.yaml: threshold 0.7, top 3 similar items recorded down to F1 0.6.
const { rougeThreshold: threshold, topSimilar, similarMin } = curationConfigSchema.parse({}).dedup;
const seeds = syntheticInstructions(175, { seed: 7, nearDuplicateShare: 0 });
const items = syntheticInstructions(count, { seed: 42, nearDuplicateShare: 0.04 });

function fast(n: number): { kept: number[]; seconds: number; cpu: number; index: RougeIndex } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const index = new RougeIndex({ threshold, topSimilar, similarMin });
  seeds.forEach((s, i) => index.add(`seed:${i}`, s));
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (index.checkAndAdd(String(i), items[i]!).duplicateOf === null) kept.push(i);
  const c = process.cpuUsage(c0);
  return { kept, seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, index };
}

function bruteForce(n: number): { kept: number[]; seconds: number } {
  const t0 = performance.now();
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
  return { kept, seconds: (performance.now() - t0) / 1000 };
}

const all = fast(count);
const s = all.index.stats;
console.log(
  `fast: ${count} items + ${seeds.length} seeds, kept ${all.kept.length}, ${all.seconds.toFixed(2)} s (cpu ${all.cpu.toFixed(2)} s); ` +
    `candidates ${s.candidates}, position-pruned ${s.positionPruned}, overlap-pruned ${s.overlapPruned}, pairs verified ${s.pairsVerified}, rebuilds ${s.rebuilds}`,
);
const bfCount = Math.min(3000, count);
const bf = bruteForce(bfCount);
const small = fast(bfCount);
const same = JSON.stringify(bf.kept) === JSON.stringify(small.kept);
console.log(`brute force ${bfCount}: ${bf.seconds.toFixed(1)} s, fast ${bfCount}: ${small.seconds.toFixed(3)} s, same kept set: ${same}`);
if (!same) process.exitCode = 1;
// The pairwise loop is quadratic in the items kept, so its 52,000-item time is extrapolated from the 3,000 measured.
const extrapolated = bf.seconds * (count / bfCount) ** 2;
console.log(
  `dedup ${count} items: ${all.seconds.toFixed(2)} s, ${s.pairsVerified} pairs verified (brute force ${bfCount} items: ${bf.seconds.toFixed(1)} s, ${Math.round(bf.seconds / small.seconds)}x on the same items; extrapolated to ${count}: ~${Math.round(extrapolated)} s, ~${Math.round(extrapolated / all.seconds)}x)`,
);
