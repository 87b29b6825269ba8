import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curationConfigSchema } from '../../src/config/curation.js';
import { createDuplicateIndex } from '../../src/curate/create-duplicate-index.js';
import { curationVerdict, overTargetVerdict } from '../../src/curate/curation-verdict.js';
import { recurateRun } from '../../src/curate/curate-run.js';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import { RunStore } from '../../src/store/run-store.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

const cfg = curationConfigSchema.parse({});

test('the curation verdict: rules before the duplicate index (a rejected item is not indexed), the judge after it', () => {
  const index = createDuplicateIndex(cfg, 'en');
  const settings = { curation: cfg, lang: 'en' as const, minJudgeScore: 3 };
  const drawn = curationVerdict({ key: '1', instruction: 'Draw a picture of a lighthouse at night.', input: '', output: 'x' }, index, settings);
  assert.deepEqual([drawn.status, drawn.reason], ['rejected', 'rule:blacklist']);
  assert.equal(index.size, 0, 'a rule-rejected item never enters the index');

  const low = curationVerdict({ key: '2', instruction: 'Explain how a bicycle gear system works.', input: '', output: 'Gears.', judgeScore: 2 }, index, settings);
  assert.deepEqual([low.status, low.reason, low.detail], ['rejected', 'judge', 'judge score 2 < 3']);
  // The judge-rejected item stays indexed: a copy of it is a duplicate, not a fresh unjudged sample.
  const copy = curationVerdict({ key: '3', instruction: 'explain how a  bicycle gear system works.', input: '', output: 'Gears!' }, index, settings);
  assert.deepEqual([copy.status, copy.reason, copy.duplicateOf], ['duplicate', 'duplicate:exact', '2']);

  const ok = curationVerdict({ key: '4', instruction: 'Name three rivers in South America.', input: '', output: 'Amazon, Paraná, Orinoco.', judgeScore: 5 }, index, settings);
  assert.deepEqual([ok.status, ok.reason, ok.detail], ['kept', null, null]);
  assert.deepEqual([overTargetVerdict(10).status, overTargetVerdict(10).reason], ['rejected', 'over-target']);
});

test('generation and curate reach the same verdicts: re-curating a freshly generated run changes nothing', async () => {
  // Every answer repeats some tasks, exactly or almost, so the run holds kept, duplicate and rule-rejected items.
  const server = await startFakeServer({
    behave: (n) =>
      n % 3 === 0
        ? {
            kind: 'ok',
            text: JSON.stringify([
              { instruction: 'Explain tempura vel dor kamilo to a child.', input: '', output: 'x' },
              { instruction: 'Explain tempura vel dor kamilo to a child!', input: '', output: 'y' },
              { instruction: 'Draw a picture of the zenbri ostur.', input: '', output: 'z' },
              { instruction: `Summarise the mabcal report number ${n} in one line.`, input: '', output: 'w' },
            ]),
          }
        : { kind: 'ok' },
  });
  const runDir = join(mkdtempSync(join(tmpdir(), 'forge-verdict-')), 'run');
  try {
    const config = forgeConfigSchema.parse({ generation: { baseUrl: server.url, model: 'test-model', concurrency: 2, target: 80, seed: 3 } });
    await runGeneration({ runDir, config, signal: new AbortController().signal, onEvent: () => {} });
    const store = RunStore.open(runDir);
    const s = store.summary();
    assert.ok((s.byStatus['duplicate'] ?? 0) > 0 && (s.byStatus['rejected'] ?? 0) > 0, JSON.stringify(s.byStatus));
    const over = s.byReason['over-target'] ?? 0;
    const r = recurateRun(store, config.curation);
    // Only over-target items differ: re-curation has no target, and keeps new items past it.
    assert.equal(r.changed, over);
    store.close();
  } finally {
    await server.close();
  }
});
