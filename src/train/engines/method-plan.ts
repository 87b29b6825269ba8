import type { ModelConfig } from '../../model/config.js';
import { activationBytes, countLoraParams, planMemory, type MemoryOptions } from './plan.js';

/** What `plan --method` takes: the methods of `train --method`. */
export const PLANNED_METHODS = ['sft', 'dpo', 'rm', 'ppo'] as const;
export type PlannedMethod = (typeof PLANNED_METHODS)[number];

export interface PpoPlanOptions {
  /** tokens each rollout samples after its prompt (the KV cache and the response grow by this many) */
  maxNewTokens: number;
  /** prompts per rollout (train --method ppo's --batch-size): the rollout buffers hold their responses */
  rolloutBatch: number;
  /** responses sampled per prompt (--samples-per-prompt; rloo and grpo take 2 or more) */
  samplesPerPrompt?: number;
  /** false for --ppo-variant rloo|grpo, whose baselines are the group's: no value head. Defaults to true. */
  valueHead?: boolean;
}

/** One kind of pass a step (or the run) makes through the model, and what it keeps alive while it runs. */
export interface MethodPass {
  name: string;
  /** how often: "per sequence, 2 per pair", "once per run", … */
  when: string;
  /** sequences and tokens of one such pass */
  sequences: number;
  tokens: number;
  /** whether it keeps the autodiff tape (forward + backward) or only the forward's transients */
  gradients: boolean;
  /** bytes of activations alive during the pass */
  activationBytes: number;
}

export interface MethodMemoryRow {
  item: string;
  bytes: number;
}

export interface MethodPlan {
  method: PlannedMethod;
  /** sequences through the model per training example (a pair: 2) */
  sequencesPerExample: number;
  passes: MethodPass[];
  /** what is alive at the peak (the largest gradient pass), row by row; `totalBytes` is their sum */
  memory: MethodMemoryRow[];
  totalBytes: number;
  /** trainable parameters beyond the LoRA adapter (RM's score head, PPO's value head) */
  extraTrainableParams: number;
  /** frozen parameters beyond the base model (the reward model's adapter and head, the SFT adapter) */
  extraFrozenParams: number;
}

/**
 * The peak memory of a method's training step on TensorFlow.js, and the passes that make it, counted from
 * config.json. SFT is the skeleton's plan (plan.ts): one forward+backward per micro-batch. The others follow
 * how their steps run here:
 * - DPO (methods/dpo.ts): the reference is the policy at step 0 (the initial adapter, no dropout), so it is no
 *   second model: one forward without gradients per sequence, once per run, cached as 2 log-probs per pair. The
 *   policy runs one sequence at a time with gradients; a pair's two gradients and a float64 sum are held.
 * - RM (methods/rm.ts): chosen and rejected each one forward+backward through a scalar head on the last token
 *   (score.weight, [1, hidden]); the head is trained beside the adapter.
 * - PPO (methods/ppo.ts): the policy (base + trainable LoRA from the SFT adapter) samples the responses of up to
 *   `maxNewTokens` a micro-batch at a time with a KV cache; then per micro-batch one forward each of the policy (old
 *   log-probs and values, through a value head [1, hidden] + bias), the frozen reference (base + SFT adapter) and
 *   the reward model (base + its adapter + score head); then PPO epochs of forward+backward per micro-batch. All
 *   three share the frozen base weights (a reward model trained from the same base).
 * An estimate to decide "does it fit", as planMemory is.
 */
export function planMethod(c: ModelConfig, method: PlannedMethod, opts: MemoryOptions, ppo: PpoPlanOptions = { maxNewTokens: 64, rolloutBatch: opts.microBatchSize }): MethodPlan {
  const T = opts.cutoffLen;
  const ckpt = opts.gradientCheckpointing ?? false;
  const base = planMemory(c, opts);
  const lora = base.lora;
  const trainable = base.trainableParams;
  const frozenRows: MethodMemoryRow[] = [{ item: 'frozen base weights', bytes: lora.weights + lora.widened }];
  const adapterRows = (extra: number): MethodMemoryRow[] => [
    { item: 'trainable parameters (LoRA' + (extra ? ' + head' : '') + ')', bytes: 4 * (trainable + extra) },
    { item: 'gradients', bytes: 4 * (trainable + extra) },
    { item: 'AdamW state (m, v)', bytes: 8 * (trainable + extra) },
  ];
  const gradPass = (sequences: number, tokens: number) => activationBytes(c, opts.r, opts.targetModules, sequences, tokens, ckpt);
  const forwardOnly = (sequences: number, tokens: number) => noGradForwardBytes(c, sequences, tokens);

  if (method === 'sft') {
    const passes = [{ name: 'policy', when: 'per micro-batch', sequences: opts.microBatchSize, tokens: T, gradients: true, activationBytes: lora.activations }];
    return finish(method, 1, passes, [...frozenRows, ...adapterRows(0), { item: `activations (${opts.microBatchSize} × ${T} tokens)`, bytes: lora.activations }], 0, 0);
  }
  if (method === 'dpo' || method === 'rm') {
    const head = method === 'rm' ? c.hiddenSize : 0;
    const passes: MethodPass[] = [
      { name: method === 'dpo' ? 'policy' : 'reward model', when: 'per sequence, 2 per pair (chosen, rejected)', sequences: 1, tokens: T, gradients: true, activationBytes: gradPass(1, T) },
      method === 'dpo'
        ? { name: 'reference', when: 'per sequence, once per run (cached: 2 log-probs per pair)', sequences: 1, tokens: T, gradients: false, activationBytes: forwardOnly(1, T) }
        : { name: 'evaluation', when: 'held-out pairs, 8 sequences at a time', sequences: 8, tokens: T, gradients: false, activationBytes: forwardOnly(8, T) },
    ];
    const memory = [
      ...frozenRows,
      ...adapterRows(head),
      // rewardStepGradients / dpoStepGradients: chosen's and rejected's gradients, summed into float64.
      { item: "one pair's gradients (chosen, rejected) + float64 sum", bytes: (4 * 2 + 8) * (trainable + head) },
      { item: `activations (1 × ${T} tokens, one sequence at a time)`, bytes: Math.max(...passes.map((p) => p.activationBytes)) },
    ];
    return finish(method, 2, passes, memory, head, 0);
  }
  // PPO, as methods/ppo.ts runs it: the sampling (a KV cache of a micro-batch of responses), the policy, reference
  // and reward-model scoring and the update each go a micro-batch of responses at a time.
  const samples = ppo.samplesPerPrompt ?? 1;
  const S = T + ppo.maxNewTokens;
  const kvDim = c.numKvHeads * c.headDim;
  const valueHead = ppo.valueHead === false ? 0 : c.hiddenSize + 1;
  const sftAdapter = countLoraParams(c, opts.r, opts.targetModules);
  const rmFrozen = countLoraParams(c, opts.r, opts.targetModules) + c.hiddenSize;
  const responses = ppo.rolloutBatch * samples;
  // Per response token: old log-prob, reference log-prob, value, reward, advantage, return (float32) and the token.
  const rolloutBuffers = responses * ppo.maxNewTokens * (6 * 4 + 4);
  const micro = Math.min(opts.microBatchSize, ppo.rolloutBatch) * samples;
  const kvCache = 4 * c.numLayers * 2 * kvDim * S * micro;
  const passes: MethodPass[] = [
    { name: 'rollout (policy, KV cache)', when: `${ppo.maxNewTokens} decode steps for ${micro} responses at once, ${responses} per rollout`, sequences: micro, tokens: S, gradients: false, activationBytes: forwardOnly(micro, 1) + 4 * c.vocabSize * micro },
    { name: 'policy + value head (old log-probs, values)', when: 'per micro-batch of the rollout', sequences: micro, tokens: S, gradients: false, activationBytes: forwardOnly(micro, S) },
    { name: 'reference (base + SFT adapter)', when: 'per micro-batch of the rollout', sequences: micro, tokens: S, gradients: false, activationBytes: forwardOnly(micro, S) },
    { name: 'reward model (score of the last token)', when: 'per micro-batch of the rollout', sequences: micro, tokens: S, gradients: false, activationBytes: forwardOnly(micro, S) },
    { name: 'policy + value head (PPO update)', when: 'per micro-batch, each PPO epoch', sequences: micro, tokens: S, gradients: true, activationBytes: gradPass(micro, S) },
  ];
  const memory = [
    ...frozenRows,
    { item: 'frozen adapters: SFT (policy and reference), reward model + score head', bytes: 4 * (sftAdapter + rmFrozen) },
    ...adapterRows(valueHead),
    { item: `rollout KV cache (${micro} sequences of ${S} positions × ${c.numLayers} layers × keys+values of ${kvDim})`, bytes: kvCache },
    { item: `rollout buffers (${responses} responses × ${ppo.maxNewTokens} tokens: log-probs, values, rewards, advantages)`, bytes: rolloutBuffers },
    { item: `activations (${micro} × ${S} tokens, the update's largest pass)`, bytes: Math.max(...passes.map((p) => p.activationBytes)) },
  ];
  return finish(method, samples, passes, memory, valueHead, sftAdapter + rmFrozen);
}

function finish(method: PlannedMethod, sequencesPerExample: number, passes: MethodPass[], memory: MethodMemoryRow[], extraTrainableParams: number, extraFrozenParams: number): MethodPlan {
  return { method, sequencesPerExample, passes, memory, totalBytes: memory.reduce((n, r) => n + r.bytes, 0), extraTrainableParams, extraFrozenParams };
}

/**
 * Activations of a forward without gradients: no tape, so only one layer's transients for these tokens are alive
 * at a time (the same per-token-and-layer count as the training estimate, for one layer), plus the residual
 * stream and one chunk of logits.
 */
export function noGradForwardBytes(c: ModelConfig, sequences: number, tokens: number): number {
  // activationBytes with checkpointing keeps every layer's input plus one layer's internals: take the layer inputs off.
  const withInputs = activationBytes(c, 0, [], sequences, tokens, true);
  return withInputs - 4 * sequences * tokens * c.hiddenSize * c.numLayers;
}

/** Memory a backend offers a run, and where that figure comes from. */
export interface BackendBudget {
  bytes: number | null;
  source: string;
}

/**
 * wasm (and native, which computes in the wasm heap) stops at 4 GiB, of which the planner keeps 15% free; GPU
 * backends have the device's memory, which only the user can tell (--gpu-memory; 90% usable); CPU backends have
 * the machine's free memory.
 */
export function backendBudget(backend: string, o: { gpuMemory: number | null; freeMemory: number }): BackendBudget {
  if (backend === 'wasm' || backend === 'native') return { bytes: 0.85 * 4 * 1024 ** 3, source: `${backend}: 85% of the 4 GiB wasm heap` };
  if (backend === 'webgpu' || backend === 'tensorflow-gpu')
    return o.gpuMemory === null ? { bytes: null, source: `${backend}: device memory unknown (pass --gpu-memory SIZE)` } : { bytes: 0.9 * o.gpuMemory, source: `${backend}: 90% of --gpu-memory` };
  return { bytes: o.freeMemory, source: `${backend}: this machine's free memory` };
}

export interface MethodFit {
  /** null: the budget is unknown */
  fits: boolean | null;
  /** sequences of the largest pass that fit beside everything else (0: not even one), null when unknown */
  passSequences: number | null;
  /** sequences that pass has as planned */
  plannedSequences: number;
}

/**
 * Whether the method's peak fits the budget. Activations grow with the sequences of the largest pass, so when the
 * whole pass does not fit, the answer also says how many sequences would (SFT's trainer splits a micro-batch into
 * such passes on wasm by itself; for the others it is the micro-batch or rollout batch to ask for).
 */
export function methodFits(plan: MethodPlan, budget: BackendBudget): MethodFit {
  const peak = plan.passes.reduce((a, b) => (b.activationBytes > a.activationBytes ? b : a));
  if (budget.bytes === null) return { fits: null, passSequences: null, plannedSequences: peak.sequences };
  const fixed = plan.totalBytes - peak.activationBytes;
  const perSequence = peak.activationBytes / peak.sequences;
  const passSequences = Math.max(0, Math.floor((budget.bytes - fixed) / perSequence));
  return { fits: plan.totalBytes <= budget.bytes, passSequences: Math.min(passSequences, peak.sequences), plannedSequences: peak.sequences };
}
