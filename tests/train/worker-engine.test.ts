import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WorkerGradEngine } from '../../src/train/worker-engine.js';
import { tempDir } from './fixtures.js';

test('a worker that cannot load the model fails the start with the model error, not a hang', async () => {
  const missing = join(tempDir('worker'), 'no-model');
  await assert.rejects(
    WorkerGradEngine.start({ modelDir: missing, backend: 'wasm', spec: { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'], useRslora: false }, entries: [], maxPassTokens: 512 }, 2),
    (e: Error) => e.name === 'ForgeError' && /no-model: model directory not found/.test(e.message),
  );
});
