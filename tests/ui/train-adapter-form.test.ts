import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forgeConfigSchema } from '../../src/config/schema.js';
import type { RunInfo } from '../../src/review/run-access.js';
import { trainConfigFrom, trainFields, trainMethodFrom, validateTrain } from '../../src/ui/settings-forms.js';

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

test("the train screen's form chooses the method (sft, dpo, rm…) and DPO's beta and loss", () => {
  const config = forgeConfigSchema.parse({});
  const run = { name: 'r', dir: '/runs/r', kept: 100 } as RunInfo;
  const fields = trainFields(config, run);
  const method = fields.find((f) => f.name === 'method');
  assert.deepEqual(method?.choices?.slice(0, 3), ['sft', 'dpo', 'rm']);
  assert.equal(method?.value, 'sft');
  assert.deepEqual(fields.find((f) => f.name === 'dpoLoss')?.choices, ['sigmoid', 'ipo']);
  const values = { model: '/m', out: '/o', epochs: '1', maxSteps: '0', valSetSize: '0', backend: 'auto', adapter: 'lora', numVirtualTokens: '20', method: 'dpo', beta: '0.2', dpoLoss: 'ipo' };
  assert.deepEqual(trainMethodFrom(values), { name: 'dpo', dpo: { beta: 0.2, loss: 'ipo' } });
  assert.equal(validateTrain(config, run, values), null);
  assert.match(validateTrain(config, run, { ...values, beta: '0' }) ?? '', /DPO beta/);
  assert.deepEqual(trainMethodFrom({ ...values, method: 'rm' }), { name: 'rm' });
  assert.equal(validateTrain(config, run, { ...values, method: 'rm' }), null);
  // Prompt-learning adapters train with SFT only (as train --adapter says): the form refuses before starting.
  assert.match(validateTrain(config, run, { ...values, method: 'rm', adapter: 'p-tuning' }) ?? '', /^adapter: rm trains a LoRA adapter/);
  assert.equal(validateTrain(config, run, { ...values, method: 'sft', adapter: 'p-tuning' }), null);
});

test("the train form starts PPO with its reward model and start adapter, and refuses PPO without a reward model", () => {
  const config = forgeConfigSchema.parse({});
  const run = { name: 'r', dir: '/runs/r', kept: 100 } as RunInfo;
  assert.ok(trainFields(config, run).find((f) => f.name === 'method')?.choices?.includes('ppo'));
  const values = { model: '/m', out: '/o', epochs: '1', maxSteps: '0', valSetSize: '0', backend: 'auto', adapter: 'lora', numVirtualTokens: '20', method: 'ppo', beta: '0.1', dpoLoss: 'sigmoid', rewardModel: '/runs/r/rm', initAdapter: '/runs/r/lora' };
  assert.equal(validateTrain(config, run, values), null);
  assert.deepEqual(trainMethodFrom(values), { name: 'ppo' });
  const c = trainConfigFrom(config, run, values);
  assert.equal(c.rewardModel, '/runs/r/rm');
  assert.equal(c.initAdapter, '/runs/r/lora');
  assert.match(validateTrain(config, run, { ...values, rewardModel: '' }) ?? '', /^reward model: required for ppo/);
  assert.equal(trainConfigFrom(config, run, { ...values, initAdapter: '' }).initAdapter, null);
});
