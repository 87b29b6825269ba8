import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WorkerGradEngine } from '../../src/train/engines/worker-engine.js';
import { tempDir } from './fixtures.js';
import { ModelError } from '../../src/errors.js';

test('a worker that cannot load the model fails the start with the typed model error (class, exit code, hint), not a hang', async () => {
  const missing = join(tempDir('worker'), 'no-model');
  await assert.rejects(
    WorkerGradEngine.start({ modelDir: missing, backend: 'wasm', spec: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'], useRslora: false }, entries: [], maxPassTokens: 512 }, 2),
    (e: Error) => {
      assert.ok(e instanceof ModelError, `${e.name}: ${e.message}`);
      assert.equal(e.name, 'ModelError');
      assert.equal(e.exitCode, 5);
      assert.match(e.message, /no-model: model directory not found/);
      assert.match(e.hint ?? '', /config\.json/);
      return true;
    },
  );
});
