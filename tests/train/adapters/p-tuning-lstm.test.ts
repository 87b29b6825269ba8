import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../../src/model/backend.js';
import { loadModel } from '../../../src/model/load.js';
import { encodeExample } from '../../../src/model/encode-example.js';
import { perExampleNll } from '../../../src/model/loss.js';
import { openSafetensors } from '../../../src/model/safetensors.js';
import { runTraining } from '../../../src/train/trainer.js';
import { loadAdapter } from '../../../src/train/adapters/adapter-io.js';
import type { TinyModelInfo } from '../../helpers/tiny-model.js';
import { SAMPLES, quickConfig, tempDir, tinyModel, writeDataset } from '../fixtures.js';

let root: string;
let info: TinyModelInfo;
before(async () => {
  await selectBackend('wasm');
  root = tempDir('p-tuning-lstm');
  info = await tinyModel(root);
});

test('train --adapter p-tuning --encoder-reparameterization-type LSTM: PEFT\'s config and files, a resumed run equals an uninterrupted one, and score loads it', async () => {
  const data = writeDataset(root, SAMPLES, 'six.json');
  const config = (out: string) =>
    quickConfig({ model: info.dir, data, out, adapter: 'p-tuning', encoderReparameterizationType: 'LSTM', encoderNumLayers: 2, numVirtualTokens: 3, encoderHiddenSize: 8, epochs: 2, learningRate: 0.05, saveEvery: 1 });
  const full = join(root, 'full');
  const a = await runTraining(config(full));
  const cfg = JSON.parse(readFileSync(join(full, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['peft_type'], 'P_TUNING');
  assert.equal(cfg['encoder_reparameterization_type'], 'LSTM');
  assert.equal(cfg['encoder_num_layers'], 2);
  assert.equal(cfg['encoder_hidden_size'], 8);
  const f = openSafetensors(join(full, 'adapter_model.safetensors'));
  assert.deepEqual([f.names(), f.info('prompt_embeddings').shape], [['prompt_embeddings'], [3, info.hidden]]);
  f.close();
  const enc = openSafetensors(join(full, 'checkpoints', `step-${a.step}`, 'prompt_encoder.safetensors'));
  assert.ok(enc.names().includes('lstm_head.weight_ih_l1_reverse'));
  assert.deepEqual(enc.info('lstm_head.weight_ih_l1_reverse').shape, [32, 16]);
  assert.deepEqual(enc.info('mlp_head.2.weight').shape, [info.hidden, 16]);
  enc.close();

  const stopped = join(root, 'stopped');
  const ac = new AbortController();
  const b = await runTraining(config(stopped), { signal: ac.signal, onEvent: (e) => e.type === 'step' && e.step === 2 && ac.abort() });
  assert.equal(b.interrupted, true);
  // An MLP encoder cannot continue an LSTM one.
  await assert.rejects(runTraining({ ...config(stopped), encoderReparameterizationType: 'MLP' }, { resume: true }), /encoderReparameterizationType/);
  const c = await runTraining(config(stopped), { resume: true });
  assert.equal(c.step, a.step);
  assert.ok(readFileSync(join(stopped, 'adapter_model.safetensors')).equals(readFileSync(join(full, 'adapter_model.safetensors'))), 'the resumed adapter differs');

  // score/sample read it as PEFT does in inference mode: prompt_embeddings in front, and it changes the NLL.
  const model = await loadModel(info.dir);
  const encoded = SAMPLES.map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
  const batch = { inputIds: encoded.map((e) => e.inputIds), labels: encoded.map((e) => e.labels) };
  const withAdapter = await perExampleNll(model, batch, await loadAdapter(full, model));
  const base = await perExampleNll(model, batch);
  assert.ok(withAdapter.some((r, i) => Math.abs(r.nllSum - base[i]!.nllSum) > 1e-3));
  model.dispose();
  await assert.rejects(runTraining(quickConfig({ model: info.dir, data, out: join(root, 'bad'), adapter: 'prefix-tuning', encoderReparameterizationType: 'LSTM' })), /LSTM applies to P-tuning only/);
});
