import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModelConfig } from '../../../src/model/config.js';
import { adapterParamTable } from '../../../src/train/adapters/adapter-plan.js';
import { tempDir, tinyModel } from '../fixtures.js';

test("plan's adapter table counts each adapter's parameters as PEFT's modules hold them", async () => {
  // hidden 32, 2 layers, 4 heads, 2 KV heads of 8: worked by hand from PEFT's module shapes.
  const info = await tinyModel(tempDir('adapter-plan'));
  const rows = adapterParamTable(loadModelConfig(info.dir), { r: 8, targetModules: ['q_proj', 'v_proj'], numVirtualTokens: 20, encoderHiddenSize: null });
  const count = Object.fromEntries(rows.map((r) => [`${r.adapter}${r.detail.includes('projection') ? '+proj' : ''}`, r.trainableParams]));
  assert.deepEqual(count, {
    lora: 2 * (8 * (32 + 32) + 8 * (32 + 16)), // q: 32→32, v: 32→16 (GQA), r = 8, 2 layers
    'prompt-tuning': 20 * 32,
    'p-tuning': 20 * 32 + 3 * (32 * 32 + 32), // embedding + three Linear(32, 32)
    'prefix-tuning': 20 * 2 * 2 * 16, // token_dim = KV heads × head_dim = 16, keys and values of 2 layers
    'prefix-tuning+proj': 20 * 16 + (16 * 16 + 16) + (16 * 64 + 64), // embedding, Linear(16, 16), Linear(16, 2·2·16)
  });
  assert.ok(rows.every((r) => r.trainingBytes === 16 * r.trainableParams));
});
