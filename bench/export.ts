/**
 * Export at Alpaca scale: a run of 52,000 items (instructions from the dedup bench's synthetic stream, a share
 * rejected or duplicate, some reviewed and edited), then what `alpaca-forge export` and the review screen read:
 * RunStore.usableItems() written as Alpaca JSON, and RunStore.listItems(). Each is timed 5 times; the median
 * is printed. Run: node --import tsx bench/export.ts [count]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeSamples } from '../src/data/alpaca-file.js';
import { RunStore, type NewItem } from '../src/store/run-store.js';
import { syntheticInstructions } from '../tests/helpers/synthetic-instructions.js';

const count = Number(process.argv[2] ?? 52000);
const dir = mkdtempSync(join(tmpdir(), 'forge-bench-export-'));
try {
  const store = RunStore.open(join(dir, 'run'), { create: true });
  const texts = syntheticInstructions(count, { seed: 42 });
  const perRequest = 20;
  for (let start = 0; start < count; start += perRequest) {
    const req = store.beginRequest([]);
    const items: NewItem[] = texts.slice(start, start + perRequest).map((instruction, k) => {
      const i = start + k;
      const dup = i % 25 === 0 && i > 0;
      return {
        id: store.allocateItemId(),
        idx: k,
        instruction,
        input: i % 3 === 0 ? '' : `input of item ${i}`,
        output: `${instruction} — an answer of a few sentences, as generated, for item ${i}.`.repeat(3),
        status: dup ? 'duplicate' : i % 17 === 0 ? 'rejected' : 'kept',
        reason: dup ? 'near-duplicate' : i % 17 === 0 ? 'too-short' : null,
        detail: null,
        duplicateOf: dup ? String(i - 1) : null,
        similarity: dup ? 0.8 : null,
        similar: dup ? [{ id: String(i - 1), score: 0.8 }] : [],
      };
    });
    store.completeRequest(req, { raw: '', finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 }, items);
  }
  for (let id = 1; id <= count; id += 10) store.setReview(id, id % 20 === 1 ? 'rejected' : 'accepted');
  for (let id = 5; id <= count; id += 500) store.editItem(id, { instruction: `edited ${id}`, input: '', output: 'edited output' });

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  // CPU time of this process as well as wall time: on a shared machine the wall clock mostly measures the neighbours.
  const time = (f: () => void) => {
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < 5; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      f();
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    return `${median(wall).toFixed(0)} ms (CPU ${median(cpu).toFixed(0)} ms)`;
  };
  let exported = 0;
  const exportMs = time(() => {
    const items = store.usableItems();
    exported = items.length;
    writeSamples(join(dir, 'out.json'), items, 'alpaca');
  });
  let listed = 0;
  const listMs = time(() => (listed = store.listItems().length));
  store.close();
  console.log(`export ${count} items: usableItems + alpaca JSON of ${exported} in ${exportMs}; listItems of ${listed} in ${listMs} (medians of 5)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
