import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelConfig } from '../../src/model/config.js';
import { countLoraParams, countModelParams, formatPlan, planMemory } from '../../src/train/plan.js';

// SmolLM2-135M's config.json (the fields that decide its size).
const smol = parseModelConfig({
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  vocab_size: 49152,
  tie_word_embeddings: true,
  hidden_act: 'silu',
});

test('parameter counts match SmolLM2-135M and PEFT for r=8 on q/v', () => {
  // 49152·576 embeddings + 30 layers · (q 576² + k,v 2·576·192 + o 576² + MLP 3·576·1536 + 2 norms·576) + final norm
  assert.equal(countModelParams(smol), 134_515_008);
  // PEFT print_trainable_parameters: 30 · (8·(576+576) + 8·(576+192)) = 460,800
  assert.equal(countLoraParams(smol, 8, ['q_proj', 'v_proj']), 460_800);
  assert.equal(countModelParams({ ...smol, tieWordEmbeddings: false }), 134_515_008 + 49152 * 576);
  assert.equal(countModelParams({ ...smol, attentionBias: true }), 134_515_008 + 30 * (576 + 192 + 192));
});

test('the plan compares the LoRA run with full fine-tunes at 16 and 12 bytes per parameter', () => {
  const p = planMemory(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], microBatchSize: 4, cutoffLen: 256 });
  assert.equal(p.lora.weights, 8 * 134_515_008);
  assert.equal(p.lora.optimizer, 8 * 460_800);
  assert.equal(p.fullFp32.total - p.lora.activations, 16 * 134_515_008);
  assert.equal(p.fullFp16.total - p.lora.activations, 12 * 134_515_008);
  assert.ok(p.lora.activations > 0);
  // More tokens per micro-batch must cost more activation memory.
  const bigger = planMemory(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], microBatchSize: 8, cutoffLen: 256 });
  assert.ok(bigger.lora.activations > 1.9 * p.lora.activations);
  const text = formatPlan(p, 'plan').join('\n');
  assert.match(text, /134\.52M total, 460\.8K trainable \(0\.34\d+%\)/);
  assert.match(text, /fp16: 2 B weights \+ 2 B grads \+ 8 B Adam = 12 B\/param: 1\.5 GiB, with activations/);
  assert.match(text, /fp32: 4 B weights \+ 4 B grads \+ 8 B Adam = 16 B\/param: 2\.0 GiB/);
});
