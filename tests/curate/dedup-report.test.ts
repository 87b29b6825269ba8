import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dedupReport } from '../../src/curate/dedup-report.js';
import { curateFile } from '../../src/curate/curate-file.js';
import { curationConfigSchema } from '../../src/config/curation.js';
import { reportLines } from '../../src/curate/report-render.js';

test('removals are counted per duplicate method with a similarity histogram each', () => {
  const r = dedupReport([
    { reason: 'duplicate:minhash', similarity: 0.81 },
    { reason: 'duplicate:minhash', similarity: 0.97 },
    { reason: 'duplicate:minhash', similarity: 0.83 },
    { reason: 'duplicate:exact', similarity: 1 },
    { reason: 'rule:blacklist', similarity: null },
    { reason: null, similarity: null },
  ]);
  assert.deepEqual(r.map((m) => [m.method, m.removed]), [['minhash', 3], ['exact', 1]]);
  const mh = r[0]!;
  assert.equal(mh.bins[0]!.from, 0.8);
  assert.equal(mh.bins.at(-1)!.to, 1);
  assert.deepEqual(mh.bins.map((b) => b.count), [2, 0, 0, 1]);
  assert.deepEqual(r[1]!.bins.map((b) => b.count), [1]);
});

test('curate --dedup minhash,rouge records each removal under its method, and the report shows both', async () => {
  const d = mkdtempSync(join(tmpdir(), 'forge-dedup-'));
  const inPath = join(d, 'data.json');
  writeFileSync(
    inPath,
    JSON.stringify([
      { instruction: 'Write a short poem about the sea and the waves at night.', input: '', output: 'a' },
      { instruction: 'Write a short poem about the sea and the waves at night time.', input: '', output: 'bb' },
      { instruction: 'Give three tips for staying healthy.', input: '', output: 'c' },
      { instruction: 'Give three tips for staying very healthy.', input: '', output: 'dd' },
    ]),
  );
  const cfg = curationConfigSchema.parse({ dedup: { minhash: true, rouge: true, keep: 'longest' } });
  const r = await curateFile({ inPath, outPath: join(d, 'out.json'), cfg, rejectedPath: join(d, 'rej.jsonl'), reportPath: join(d, 'report.md') });
  assert.deepEqual(r.counts.byReason, { 'duplicate:minhash': 1, 'duplicate:rouge': 1 });
  const rejected = readFileSync(join(d, 'rej.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { record: number; duplicateOf: string; similarity: number });
  // --keep longest: the longer copy of each pair survives, so the first of each pair is the one removed.
  assert.deepEqual(rejected.map((x) => [x.record, x.duplicateOf]), [[1, '2'], [3, '4']]);
  assert.ok(rejected[0]!.similarity >= 0.8);
  assert.ok(reportLines(r.report!).some((l) => /minhash\s+1 removed/.test(l)));
  assert.match(readFileSync(join(d, 'report.md'), 'utf8'), /## Duplicates by method/);
});

test('a method with 650K removals (a runaway run) makes its histogram without overflowing the call stack', () => {
  function* removals() {
    for (let i = 0; i < 650_000; i++) yield { reason: 'duplicate:rouge', similarity: 0.7 + (i % 30) / 100 };
  }
  const [rouge] = dedupReport(removals());
  assert.equal(rouge!.removed, 650_000);
  assert.equal(rouge!.bins[0]!.from, 0.7);
  assert.equal(rouge!.bins.reduce((a, b) => a + b.count, 0), 650_000);
});
