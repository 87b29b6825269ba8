import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelConfig } from '../../src/model/config.js';
import { activationBytes } from '../../src/train/engines/plan.js';
import { backendBudget, methodFits, noGradForwardBytes, planMethod } from '../../src/train/engines/method-plan.js';
import { formatMethodPlan } from '../../src/train/engines/method-plan-text.js';

// hidden 8, 2 layers, 2 heads of 4 (one KV head: kv width 4), MLP 16, vocab 32.
const tiny = parseModelConfig({ model_type: 'llama', hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 32, tie_word_embeddings: true, hidden_act: 'silu' });
const opts = { r: 2, targetModules: ['q_proj', 'v_proj'] as const, microBatchSize: 4, cutoffLen: 16, layouts: 1 as const };
const row = (p: ReturnType<typeof planMethod>, item: RegExp) => p.memory.find((r) => item.test(r.item))!.bytes;

test('the activation estimates match hand arithmetic on a tiny config', () => {
  // Per token and layer: 4h + 2(q+2kv) + 3·heads·T + q + 3h + 5·mlp = 32 + 32 + 96 + 8 + 24 + 80 = 272, plus per
  // adapted module 2·in + r = 18 (q and v): 308. One 16-token sequence: 16·308·2 layers = 9856, logits 3·16·32 =
  // 1536, residuals 16·8·2 = 256 → 4 B × 11648.
  assert.equal(activationBytes(tiny, 2, ['q_proj', 'v_proj'], 1, 16), 4 * 11648);
  // Without a tape: one layer's 16·272 = 4352, the residuals and the logits chunk: 4 × (4352 + 1536 + 256).
  assert.equal(noGradForwardBytes(tiny, 1, 16), 4 * 6144);
});

test('plan --method: DPO and RM hold pairs one sequence at a time; RM adds its score head; hand arithmetic', () => {
  const sft = planMethod(tiny, 'sft', opts);
  const dpo = planMethod(tiny, 'dpo', opts);
  const rm = planMethod(tiny, 'rm', opts);
  // LoRA r=2 on q (8→8) and v (8→4): 2·(2·16 + 2·12) = 112 parameters.
  assert.equal(row(sft, /^trainable/), 4 * 112);
  assert.equal(sft.sequencesPerExample, 1);
  assert.equal(dpo.sequencesPerExample, 2);
  assert.equal(rm.sequencesPerExample, 2);
  // DPO: the reference is one forward without gradients per sequence, once per run; the policy one sequence with them.
  const ref = dpo.passes.find((p) => p.name === 'reference')!;
  assert.equal(ref.gradients, false);
  assert.match(ref.when, /once per run/);
  assert.equal(ref.activationBytes, noGradForwardBytes(tiny, 1, 16));
  assert.equal(dpo.passes.find((p) => p.name === 'policy')!.activationBytes, 4 * 11648);
  // A pair's two gradients (4 B each) and their float64 sum: 16 B × 112.
  assert.equal(row(dpo, /one pair's gradients/), 16 * 112);
  // RM: the head [1, 8] is trained (params, gradients, Adam: 16 B) and in the pair's gradients (16 B).
  assert.equal(rm.extraTrainableParams, 8);
  assert.equal(row(rm, /^trainable.*head/), 4 * 120);
  assert.equal(row(rm, /one pair's gradients/), 16 * 120);
  const rmActivations = Math.max(4 * 11648, noGradForwardBytes(tiny, 8, 16));
  assert.equal(row(rm, /^activations/), rmActivations);
  assert.equal(rm.totalBytes - row(rm, /^activations/) - (dpo.totalBytes - row(dpo, /^activations/)), 16 * 8 + 16 * 8);
  // One sequence at a time holds less than SFT's micro-batch of 4.
  assert.ok(row(dpo, /^activations/) < row(sft, /^activations/));
});

test('plan --method ppo: policy, reference, reward model and value head, the rollout KV cache and buffers, by hand', () => {
  const ppo = planMethod(tiny, 'ppo', opts, { maxNewTokens: 8, rolloutBatch: 3 });
  // Value head [1, 8] + bias; frozen: the SFT adapter (112) and the reward model's adapter (112) + score head (8).
  assert.equal(ppo.extraTrainableParams, 9);
  assert.equal(ppo.extraFrozenParams, 232);
  assert.equal(row(ppo, /^frozen adapters/), 4 * 232);
  assert.equal(row(ppo, /^trainable/), 4 * 121);
  // KV cache: a micro-batch of min(4, 3) responses sampled together: 3 × (16 + 8) positions × 2 layers × keys and
  // values × 4 wide × 4 B.
  assert.equal(row(ppo, /KV cache/), 3 * 24 * 2 * 2 * 4 * 4);
  // Buffers: 3 prompts × 1 response × 8 tokens × (6 floats + a token id).
  assert.equal(row(ppo, /rollout buffers/), 3 * 8 * 28);
  const names = ppo.passes.map((p) => p.name).join(' | ');
  for (const n of [/rollout/, /reference/, /reward model/, /value head \(old/, /PPO update/]) assert.match(names, n);
  assert.deepEqual(ppo.passes.filter((p) => p.gradients).map((p) => p.name), ['policy + value head (PPO update)']);
  // The update: min(micro-batch 4, rollout batch 3) sequences of 24 tokens with gradients.
  assert.equal(row(ppo, /^activations/), activationBytes(tiny, 2, ['q_proj', 'v_proj'], 3, 24));
  assert.equal(ppo.totalBytes, ppo.memory.reduce((n, r) => n + r.bytes, 0));

  // More new tokens cost more (the KV cache grows with the positions); more responses per rollout fill more buffers
  // and, up to the micro-batch, longer passes.
  const longer = planMethod(tiny, 'ppo', opts, { maxNewTokens: 40, rolloutBatch: 3 });
  const wider = planMethod(tiny, 'ppo', opts, { maxNewTokens: 8, rolloutBatch: 6 });
  const grouped = planMethod(tiny, 'ppo', opts, { maxNewTokens: 8, rolloutBatch: 3, samplesPerPrompt: 2 });
  assert.equal(row(longer, /KV cache/), (row(ppo, /KV cache/) * 56) / 24);
  assert.equal(row(wider, /rollout buffers/), 2 * row(ppo, /rollout buffers/));
  assert.equal(row(grouped, /rollout buffers/), 2 * row(ppo, /rollout buffers/));
  assert.equal(row(wider, /^activations/), activationBytes(tiny, 2, ['q_proj', 'v_proj'], 4, 24), 'the update pass is capped by the micro-batch');
  assert.equal(row(grouped, /^activations/), activationBytes(tiny, 2, ['q_proj', 'v_proj'], 6, 24), '3 prompts × 2 responses per pass');
  assert.ok(longer.totalBytes > ppo.totalBytes && wider.totalBytes > ppo.totalBytes);
  // rloo/grpo: no value head, so only the adapter trains (4 + 4 + 8 B × 112).
  const grpo = planMethod(tiny, 'ppo', opts, { maxNewTokens: 8, rolloutBatch: 3, samplesPerPrompt: 2, valueHead: false });
  assert.equal(grpo.extraTrainableParams, 0);
  assert.equal(row(grpo, /^trainable/), 4 * 112);
  // PPO holds more than SFT on the same settings: the frozen adapters, the value head and the rollout.
  assert.ok(ppo.totalBytes > planMethod(tiny, 'sft', opts).totalBytes);
});

test('plan --method says what fits on the backend: the budget, and how many sequences of the largest pass would', () => {
  const ppo = planMethod(tiny, 'ppo', opts, { maxNewTokens: 8, rolloutBatch: 3 });
  const roomy = methodFits(ppo, { bytes: ppo.totalBytes, source: 'exact' });
  assert.deepEqual(roomy, { fits: true, passSequences: 3, plannedSequences: 3 });
  const perSequence = row(ppo, /^activations/) / 3;
  const tight = methodFits(ppo, { bytes: ppo.totalBytes - perSequence, source: 'one sequence less' });
  assert.deepEqual(tight, { fits: false, passSequences: 2, plannedSequences: 3 });
  assert.equal(methodFits(ppo, { bytes: 1000, source: 'tiny' }).passSequences, 0);
  assert.deepEqual(methodFits(ppo, { bytes: null, source: '?' }), { fits: null, passSequences: null, plannedSequences: 3 });
  assert.equal(backendBudget('wasm', { gpuMemory: null, freeMemory: 1 }).bytes, 0.85 * 4 * 1024 ** 3);
  assert.equal(backendBudget('webgpu', { gpuMemory: null, freeMemory: 1 }).bytes, null);
  assert.equal(backendBudget('webgpu', { gpuMemory: 1000, freeMemory: 1 }).bytes, 900);
  assert.equal(backendBudget('cpu', { gpuMemory: null, freeMemory: 1234 }).bytes, 1234);
  const text = formatMethodPlan({ ...ppo, ppo: { maxNewTokens: 8, rolloutBatch: 3 }, fits: [{ backend: 'x', budgetBytes: 1, budget: 'x: test', ...tight }] }).join('\n');
  assert.match(text, /^train --method ppo \(rollouts of 3 × 8 new tokens\)/);
  assert.match(text, /does NOT fit as planned; passes of 2 sequences would \(lower --micro-batch-size or --batch-size\) on x: test/);
});

test('plan --method ppo --json carries the passes, the memory and the fit; --max-new-tokens without ppo is refused', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { plainContext } = await import('../helpers/command-context.js');
  const { command: plan } = await import('../../src/cli/commands/plan.js');
  const dir = mkdtempSync(join(tmpdir(), 'plan-method-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 32, tie_word_embeddings: true, hidden_act: 'silu' }));
  const run = async (values: Record<string, string | boolean>) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await plan.run(plainContext({ values: { model: dir, ...values }, out: (l) => out.push(l), err: (l) => err.push(l), signal: new AbortController().signal }));
    return { code, out };
  };
  const r = await run({ method: 'ppo', 'max-new-tokens': '8', 'batch-size': '3', 'micro-batch-size': '4', 'lora-r': '2', 'cutoff-len': '16', backend: 'webgpu', 'gpu-memory': '1GiB', 'max-binding-size': '128MiB', json: true });
  assert.equal(r.code, 0);
  const j = JSON.parse(r.out.join('\n')) as { method: { method: string; ppo: { maxNewTokens: number; rolloutBatch: number; samplesPerPrompt: number; valueHead: boolean }; memory: Array<{ item: string; bytes: number }>; fits: Array<{ backend: string; fits: boolean }> } };
  assert.equal(j.method.method, 'ppo');
  assert.deepEqual(j.method.ppo, { maxNewTokens: 8, rolloutBatch: 3, samplesPerPrompt: 1, valueHead: true });
  assert.equal(j.method.memory.find((m) => /KV cache/.test(m.item))!.bytes, 3 * 24 * 2 * 2 * 4 * 4);
  assert.deepEqual(j.method.fits.map((f) => [f.backend, f.fits]), [['webgpu', true]]);
  const text = await run({ method: 'rm' });
  assert.match(text.out.join('\n'), /train --method rm: 2 sequences per example; 8 trainable beside the adapter/);
  await assert.rejects(run({ 'max-new-tokens': '8' }), /--max-new-tokens applies to plan --method ppo/);
  await assert.rejects(run({ method: 'grpo' }), /--method: "grpo" is not a training method/);
});
