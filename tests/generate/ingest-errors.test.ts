import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { DataError } from '../../src/errors.js';
import { IngestPipeline } from '../../src/generate/ingest-pipeline.js';

test('an error in the run writer thread reaches the caller as its own class, with exit code and hint', async () => {
  // No run.db here: the writer's RunStore.open throws a DataError inside the thread.
  const runDir = join(mkdtempSync(join(tmpdir(), 'forge-ingest-')), 'missing');
  const ingest = IngestPipeline.start({ runDir, config: forgeConfigSchema.parse({}), lang: 'en', target: 10, seeds: [] });
  try {
    await assert.rejects(
      ingest.complete({ type: 'complete', requestId: 1, result: { raw: '[]', finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 }, format: 'json', nextIndex: 1 }),
      (e: Error) => {
        assert.ok(e instanceof DataError, `${e.name}: ${e.message}`);
        assert.equal(e.exitCode, 4);
        assert.match(e.message, /no run here/);
        assert.match(e.hint ?? '', /check --run/);
        return true;
      },
    );
  } finally {
    await ingest.close();
  }
});
