import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../../src/model/load.js';
import { encodeExample } from '../../../src/model/encode-example.js';
import { embeddingRows } from '../../../src/model/llama.js';
import { perExampleNll } from '../../../src/model/loss.js';
import { openSafetensors } from '../../../src/model/safetensors.js';
import { runTraining } from '../../../src/train/trainer.js';
import { loadAdapter } from '../../../src/train/adapters/adapter-io.js';
import { mergeAdapter } from '../../../src/train/adapters/merge.js';
import { readPromptEncoder } from '../../../src/train/adapters/prompt-files.js';
import { PromptRuntime } from '../../../src/train/adapters/prompt-runtime.js';
import { promptDims, type PromptSpec } from '../../../src/train/adapters/prompt-spec.js';
import { initialPromptWeights } from '../../../src/train/adapters/prompt-training.js';
import type { TinyModelInfo } from '../../helpers/tiny-model.js';
import { SAMPLES, quickConfig, tempDir, tinyModel, writeDataset } from '../fixtures.js';

let root: string;
let info: TinyModelInfo;
let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  root = tempDir('prompt-train');
  info = await tinyModel(root);
  model = await loadModel(info.dir);
});

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const COMMON = ['auto_mapping', 'base_model_name_or_path', 'inference_mode', 'num_attention_heads', 'num_layers', 'num_transformer_submodules', 'num_virtual_tokens', 'peft_type', 'revision', 'task_type', 'token_dim'];

const CASES = [
  {
    adapter: 'prompt-tuning' as const,
    extra: { promptInit: 'Answer briefly.' },
    peftType: 'PROMPT_TUNING',
    fields: { prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Answer briefly.', tokenizer_kwargs: null },
    encoder: ['embedding.weight'],
    width: () => info.hidden,
    heads: () => info.heads,
  },
  {
    adapter: 'p-tuning' as const,
    extra: { encoderHiddenSize: 16 },
    peftType: 'P_TUNING',
    fields: { encoder_reparameterization_type: 'MLP', encoder_hidden_size: 16, encoder_num_layers: 2, encoder_dropout: 0 },
    encoder: ['embedding.weight', 'mlp_head.0.weight', 'mlp_head.0.bias', 'mlp_head.2.weight', 'mlp_head.2.bias', 'mlp_head.4.weight', 'mlp_head.4.bias'],
    width: () => info.hidden,
    heads: () => info.heads,
  },
  {
    adapter: 'prefix-tuning' as const,
    extra: { prefixProjection: true },
    peftType: 'PREFIX_TUNING',
    // PEFT sizes a GQA model's prefix for its KV heads (peft#1901); encoder_hidden_size defaults to that token_dim.
    fields: { prefix_projection: true, encoder_hidden_size: 2 * 8 },
    encoder: ['embedding.weight', 'transform.0.weight', 'transform.0.bias', 'transform.2.weight', 'transform.2.bias'],
    width: () => info.layers * 2 * info.kvHeads * info.headDim,
    heads: () => info.kvHeads,
  },
];

for (const c of CASES) {
  test(`train --adapter ${c.adapter} writes PEFT's config and prompt_embeddings, and score/sample load them with the trained logits`, async () => {
    assert.equal(info.kvHeads * info.headDim, 16, 'the fixture is the GQA 4/2 model this case assumes');
    const out = join(root, c.adapter);
    const res = await runTraining(quickConfig({ model: info.dir, data: writeDataset(root), out, adapter: c.adapter, numVirtualTokens: 4, maxSteps: 3, learningRate: 0.05, saveEvery: 2, ...c.extra }));
    assert.equal(res.step, 3);
    const cfg = readJson(join(out, 'adapter_config.json'));
    assert.deepEqual(Object.keys(cfg).sort(), [...COMMON, ...Object.keys(c.fields), ...(c.adapter === 'prompt-tuning' ? ['tokenizer_name_or_path'] : [])].sort());
    assert.equal(cfg['peft_type'], c.peftType);
    assert.equal(cfg['task_type'], 'CAUSAL_LM');
    assert.equal(cfg['inference_mode'], true);
    assert.equal(cfg['num_virtual_tokens'], 4);
    assert.equal(cfg['num_layers'], info.layers);
    assert.equal(cfg['num_transformer_submodules'], 1);
    assert.equal(cfg['num_attention_heads'], c.heads());
    assert.equal(cfg['token_dim'], c.adapter === 'prefix-tuning' ? info.kvHeads * info.headDim : info.hidden);
    for (const [k, v] of Object.entries(c.fields)) assert.deepEqual(cfg[k], v, k);
    const f = openSafetensors(join(out, 'adapter_model.safetensors'));
    assert.deepEqual(f.names(), ['prompt_embeddings']);
    assert.deepEqual(f.info('prompt_embeddings').shape, [4, c.width()]);
    assert.equal(f.info('prompt_embeddings').dtype, 'F32');
    f.close();
    // Checkpoints keep the encoder itself under PEFT's module names (PEFT saves only its output).
    const ckpt = join(out, 'checkpoints', 'step-3');
    const enc = openSafetensors(join(ckpt, 'prompt_encoder.safetensors'));
    assert.deepEqual(enc.names().sort(), [...c.encoder].sort());
    enc.close();

    // The saved adapter, loaded the way score/sample load it, gives the trained encoder's NLL.
    const spec: PromptSpec = { kind: c.adapter, numVirtualTokens: 4, encoderHiddenSize: c.adapter === 'prefix-tuning' ? null : (c.extra as { encoderHiddenSize?: number }).encoderHiddenSize ?? null, prefixProjection: c.adapter === 'prefix-tuning', initText: c.adapter === 'prompt-tuning' ? 'Answer briefly.' : null };
    const trained = new PromptRuntime(readPromptEncoder(ckpt, spec, promptDims(model.config)));
    const encoded = SAMPLES.map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
    const batch = { inputIds: encoded.map((e) => e.inputIds), labels: encoded.map((e) => e.labels) };
    const loaded = await loadAdapter(out, model);
    const a = await perExampleNll(model, batch, loaded);
    const b = await perExampleNll(model, batch, trained.hook());
    const base = await perExampleNll(model, batch);
    trained.dispose();
    a.forEach((r, i) => {
      assert.equal(r.tokens, b[i]!.tokens);
      assert.ok(Math.abs(r.nllSum - b[i]!.nllSum) < 1e-3 * Math.abs(r.nllSum), `example ${i}: loaded ${r.nllSum}, trained ${b[i]!.nllSum}`);
    });
    assert.ok(a.some((r, i) => Math.abs(r.nllSum - base[i]!.nllSum) > 1e-3), 'the adapter changes the scores');

    await assert.rejects(mergeAdapter({ model: info.dir, adapter: out, out: join(root, `merged-${c.adapter}`) }), /cannot be merged into weights/);
    assert.ok(!existsSync(join(root, `merged-${c.adapter}`)));
  });
}

test("prompt tuning's TEXT init is the text's token embeddings, repeated to the virtual tokens (PEFT)", async () => {
  const text = 'Hi!';
  const ids = model.tokenizer.encode(text);
  const w = await initialPromptWeights({ kind: 'prompt-tuning', numVirtualTokens: ids.length * 2 + 1, encoderHiddenSize: null, prefixProjection: false, initText: text }, model, 1);
  const want = [...ids, ...ids, ids[0]!];
  const rows = embeddingRows(model, want);
  const expected = rows.dataSync();
  rows.dispose();
  assert.deepEqual(Array.from(w.params[0]!.data), Array.from(expected));
});

test('train refuses --adapter settings that do not apply, in one line', async () => {
  const out = join(root, 'refused');
  await assert.rejects(runTraining(quickConfig({ model: info.dir, data: writeDataset(root), out, adapter: 'p-tuning', promptInit: 'x' })), /--prompt-init applies to prompt tuning only/);
  await assert.rejects(runTraining(quickConfig({ model: info.dir, data: writeDataset(root), out, adapter: 'prompt-tuning', initAdapter: root })), /--init-adapter continues LoRA adapters only/);
});

test('a P-tuning run stopped by Ctrl-C and resumed reaches the same adapter as an uninterrupted one', async () => {
  const data = writeDataset(root, SAMPLES, 'six.json');
  const config = (out: string) => quickConfig({ model: info.dir, data, out, adapter: 'p-tuning', numVirtualTokens: 3, encoderHiddenSize: 8, epochs: 2, learningRate: 0.05, saveEvery: 1 });
  const full = join(root, 'pt-full');
  const a = await runTraining(config(full));
  const stopped = join(root, 'pt-stopped');
  const ac = new AbortController();
  const b = await runTraining(config(stopped), { signal: ac.signal, onEvent: (e) => e.type === 'step' && e.step === 2 && ac.abort() });
  assert.equal(b.interrupted, true);
  await assert.rejects(runTraining({ ...config(stopped), adapter: 'prompt-tuning', encoderHiddenSize: null }, { resume: true }), /adapter was "p-tuning", now "prompt-tuning"/);
  const c = await runTraining(config(stopped), { resume: true });
  assert.equal(c.step, a.step);
  assert.ok(a.step > 2);
  assert.ok(readFileSync(join(stopped, 'adapter_model.safetensors')).equals(readFileSync(join(full, 'adapter_model.safetensors'))), 'the resumed adapter differs');
});
