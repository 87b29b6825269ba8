import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forgeConfigSchema } from '../../src/config/schema.js';
import type { RunInfo } from '../../src/review/run-access.js';
import { trainConfigFrom, trainFields, validateTrain } from '../../src/ui/settings-forms.js';

test("the train screen's form chooses the adapter type and its virtual tokens", () => {
  const config = forgeConfigSchema.parse({});
  const run = { name: 'r', dir: '/runs/r', kept: 100 } as RunInfo;
  const field = trainFields(config, run).find((f) => f.name === 'adapter');
  assert.deepEqual(field?.choices, ['lora', 'prompt-tuning', 'p-tuning', 'prefix-tuning']);
  assert.equal(field?.value, 'lora');
  const values = { model: '/m', out: '/o', epochs: '1', maxSteps: '0', valSetSize: '0', backend: 'auto', adapter: 'prefix-tuning', numVirtualTokens: '8' };
  const c = trainConfigFrom(config, run, values);
  assert.equal(c.adapter, 'prefix-tuning');
  assert.equal(c.numVirtualTokens, 8);
  assert.equal(validateTrain(config, run, values), null);
  assert.match(validateTrain(config, run, { ...values, numVirtualTokens: '0' }) ?? '', /numVirtualTokens/);
});
