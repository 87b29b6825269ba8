/**
 * Near-duplicate removal at Alpaca scale: 52,000 synthetic instructions (4% near-duplicates) after 175 seeds, at
 * ROUGE-L threshold 0.7, through RougeIndex; then the pairwise loop Alpaca ran (every item against every kept item,
 * DP LCS, rouge_score's F1) on the first 3,000, which must keep exactly the same items.
 * Run: node --import tsx bench/dedup.ts [count]
 */
import { performance } from 'node:perf_hooks';
import { RougeIndex } from '../src/curate/rouge-index.js';
import { rougeTokens } from '../src/curate/rouge-tokenize.js';
import { lcsTable, rougeLF1 } from '../src/curate/bit-lcs.js';
import { syntheticInstructions } from './dedup-data.js';

const count = Number(process.argv[2] ?? 52000);
const threshold = 0.7;
const seeds = syntheticInstructions(175, { seed: 7, nearDuplicateShare: 0 });
const items = syntheticInstructions(count, { seed: 42, nearDuplicateShare: 0.04 });

function fast(n: number): { kept: number[]; seconds: number; index: RougeIndex } {
  const t0 = performance.now();
  const index = new RougeIndex({ threshold, topSimilar: 3, similarMin: Number(process.env.SIMMIN ?? 0.5) });
  seeds.forEach((s, i) => index.add(`seed:${i}`, s));
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (index.checkAndAdd(String(i), items[i]!).duplicateOf === null) kept.push(i);
  return { kept, seconds: (performance.now() - t0) / 1000, index };
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
  `fast: ${count} items + ${seeds.length} seeds, kept ${all.kept.length}, ${all.seconds.toFixed(2)} s; ` +
    `candidates ${s.candidates}, position-pruned ${s.positionPruned}, overlap-pruned ${s.overlapPruned}, pairs verified ${s.pairsVerified}, rebuilds ${s.rebuilds}`,
);
const bfCount = Math.min(3000, count);
const bf = bruteForce(bfCount);
const small = fast(bfCount);
const same = JSON.stringify(bf.kept) === JSON.stringify(small.kept);
console.log(`brute force ${bfCount}: ${bf.seconds.toFixed(1)} s, fast ${bfCount}: ${small.seconds.toFixed(3)} s, same kept set: ${same}`);
if (!same) process.exitCode = 1;
console.log(
  `dedup ${count} items: ${all.seconds.toFixed(2)} s, ${s.pairsVerified} pairs verified (brute force ${bfCount} items: ${bf.seconds.toFixed(1)} s, ${Math.round(bf.seconds / small.seconds)}x on the same items)`,
);
