import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelConfig } from '../../src/model/config.js';
import { countLoraParams, countModelParams, formatPlan, planMemory } from '../../src/train/engines/plan.js';
import { devicePassTokens, formatDevicePlan, planDevice } from '../../src/train/engines/device-plan.js';

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

test('the device plan checks the largest tensor against the binding limit and sizes passes from it', () => {
  const MiB = 1024 ** 2;
  const limits = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB };
  const p = planDevice(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], microBatchSize: 64, cutoffLen: 256, limits });
  // The tied embedding matrix, 49152 × 576 float32 = 108 MiB, is the largest weight.
  assert.deepEqual(p.largestWeight, { name: 'embeddings [49152, 576]', bytes: 49152 * 576 * 4 });
  assert.equal(p.weightFitsBinding, true);
  // Attention scores [k, 9, 256, 256] float32 reach 128 MiB at k = 57: 56 sequences per pass, 64 need 2 passes.
  assert.equal(p.largestMicroBatch, 56);
  assert.equal(p.passSequences, 56);
  assert.equal(p.largestActivation.name, 'attention scores [64, 9, 256, 256]');
  assert.equal(p.fitsMemory, null);
  assert.equal(devicePassTokens(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], seqLen: 256, limits }), 56 * 256);
  const text = formatDevicePlan(p, 'test adapter').join('\n');
  assert.match(text, /largest weight: embeddings \[49152, 576\] 108 MiB vs binding limit 128 MiB: ok/);
  assert.match(text, /micro-batch 64: 2 passes of 56 sequences; the largest micro-batch that runs as one pass is 56/);
  assert.match(text, /device memory unknown/);

  // A smaller binding limit than the embeddings: the plan says the weight cannot be uploaded.
  const small = planDevice(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], microBatchSize: 4, cutoffLen: 256, limits: { maxStorageBufferBindingSize: 64 * MiB, maxBufferSize: 64 * MiB } });
  assert.equal(small.weightFitsBinding, false);
  assert.match(formatDevicePlan(small, 'x').join('\n'), /108 MiB vs binding limit 64.0 MiB: TOO LARGE/);

  // Memory: 1 GiB cannot hold 134.5M float32 weights (538 MB) and one 256-token sequence's activations without
  // checkpointing; 80 GiB holds 56 × 256.
  const tight = planDevice(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], microBatchSize: 4, cutoffLen: 256, limits, gpuMemory: 1024 ** 3, gradientCheckpointing: false });
  assert.equal(tight.fitsMemory, false);
  assert.equal(tight.largestMicroBatch, 0);
  assert.match(formatDevicePlan(tight, 'x').join('\n'), /does NOT fit in 1\.0 GiB/);
  const roomy = planDevice(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], microBatchSize: 4, cutoffLen: 256, limits, gpuMemory: 80 * 1024 ** 3 });
  assert.equal(roomy.fitsMemory, true);
  assert.equal(roomy.largestMicroBatch, 56);
  // In between, memory rather than the binding limit decides the pass size.
  const mid = planDevice(smol, { r: 8, targetModules: ['q_proj', 'v_proj'], microBatchSize: 64, cutoffLen: 256, limits, gpuMemory: 3 * 1024 ** 3 });
  assert.ok(mid.largestMicroBatch > 0 && mid.largestMicroBatch < 56, `memory-bound pass: ${mid.largestMicroBatch}`);
  assert.ok(mid.totalBytes <= 0.9 * 3 * 1024 ** 3);
});

// Llama-2-7B's config.json (the fields that decide its size).
const llama7b = parseModelConfig({
  model_type: 'llama',
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  vocab_size: 32000,
  tie_word_embeddings: false,
  hidden_act: 'silu',
});

test('a Llama-2-7B LoRA run (r16, q/v, 1 × 1024) fits 24 GB with int8 base weights and 40 GB with bf16, checkpointed by default', () => {
  const GB = 1e9;
  const limits = { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 31 - 4 };
  const at = (baseWeights: 'f32' | 'bf16' | 'int8', gpuMemory: number) =>
    planDevice(llama7b, { r: 16, targetModules: ['q_proj', 'v_proj'], microBatchSize: 1, cutoffLen: 1024, limits, gpuMemory, baseWeights });
  const int8 = at('int8', 24 * GB);
  const bf16 = at('bf16', 40 * GB);
  assert.equal(int8.fitsMemory, true, `int8: ${int8.totalBytes / GB} GB`);
  assert.equal(bf16.fitsMemory, true, `bf16: ${bf16.totalBytes / GB} GB`);
  assert.equal(int8.gradientCheckpointing, true);
  assert.equal(int8.passSequences, 1);
  // f32 in one layout is 27 GB of weights alone: not in 24 GB, and without checkpointing bf16 needs 30 GB more.
  assert.equal(at('f32', 24 * GB).fitsMemory, false);
  const bf16Full = planDevice(llama7b, { r: 16, targetModules: ['q_proj', 'v_proj'], microBatchSize: 1, cutoffLen: 1024, limits, gpuMemory: 40 * GB, baseWeights: 'bf16', gradientCheckpointing: false });
  assert.equal(bf16Full.fitsMemory, false, `bf16 unchekpointed: ${bf16Full.totalBytes / GB} GB`);
  // Weights: 6.48B projection parameters at ~1 B (int8) and 2 B (bf16), 262M embedding and head values in f32.
  const w8 = planMemory(llama7b, { r: 16, targetModules: ['q_proj', 'v_proj'], microBatchSize: 1, cutoffLen: 1024, baseWeights: 'int8', layouts: 1 }).lora.weights;
  const w16 = planMemory(llama7b, { r: 16, targetModules: ['q_proj', 'v_proj'], microBatchSize: 1, cutoffLen: 1024, baseWeights: 'bf16', layouts: 1 }).lora.weights;
  assert.ok(w8 > 7.5 * GB && w8 < 8.1 * GB, `int8 weights ${w8 / GB} GB`);
  assert.ok(w16 > 13.9 * GB && w16 < 14.1 * GB, `bf16 weights ${w16 / GB} GB`);
});

test('storage bindings are never trusted past 2 GiB − 4, whatever the adapter reports', () => {
  // An H200 reports 4 GiB bindings; Dawn's NVIDIA Vulkan path reads 0 past 2 GB. A 152064 × 4096 embedding
  // (Qwen2.5-7B's shape) is 2.49 GB and must not count as fitting one binding.
  const big = { ...llama7b, vocabSize: 152064 };
  const limits = { maxStorageBufferBindingSize: 4 * 1024 ** 3, maxBufferSize: 4 * 1024 ** 3 };
  const p = planDevice(big, { r: 16, targetModules: ['q_proj', 'v_proj'], microBatchSize: 1, cutoffLen: 1024, limits });
  assert.equal(p.weightFitsBinding, false, `embedding ${p.largestWeight.bytes} bytes`);
  assert.match(formatDevicePlan(p, 'x').join('\n'), /vs binding limit 2\.0 GiB: TOO LARGE/);
});
