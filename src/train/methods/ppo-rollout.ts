import { generateBatch } from '../../model/generate.js';
import type { LoraHook } from '../../model/llama.js';
import type { LlamaModel } from '../../model/load.js';
import { StepAborted } from '../engines/grad-engine.js';
import { gae, groupAdvantages, tokenRewards, whiten } from './ppo-math.js';
import { responseNumbers, type PolicySequence, type ValueHead } from './ppo-passes.js';
import type { RolloutScorer } from './ppo-reward.js';

/** A prompt the policy answers: the Alpaca-formatted text and its tokens. */
export interface PpoPrompt {
  prompt: string;
  promptIds: number[];
}

/** A sampled response with everything the update needs, per response token. */
export interface Rollout extends PolicySequence {
  prompt: string;
  /** whether the policy chose to stop (the response then ends with EOS) */
  stopped: boolean;
  score: number;
  logprobs: Float32Array;
  refLogprobs: Float32Array;
  entropy: Float32Array;
  /** the value head at rollout time (PPO); null for the group variants */
  values: Float32Array | null;
}

export type PpoVariant = 'ppo' | 'rloo' | 'grpo';

export interface RolloutSettings {
  temperature: number;
  maxNewTokens: number;
  /** responses per prompt */
  samples: number;
  /** the seed of response `sample` to the `prompt`-th prompt of the batch (counter-based: a resumed run draws the same) */
  seedOf: (prompt: number, sample: number) => number;
}

/**
 * Samples responses with the KV-cache sampler under the policy (no dropout), a micro-batch at a time, then scores
 * them: the policy's and the reference's log-probs and the value head in one forward pass each per micro-batch (the
 * reference's once per rollout), and the reward model's score. `batches` are micro-batches of prompts; the result keeps their order,
 * `samples` responses per prompt side by side. Throws StepAborted when `signal` fires.
 */
export async function collectRollouts(
  model: LlamaModel,
  batches: readonly (readonly PpoPrompt[])[],
  s: RolloutSettings,
  nets: { policy: LoraHook; reference: LoraHook | undefined; head: ValueHead | null; scorer: RolloutScorer },
  signal?: AbortSignal,
): Promise<{ rollouts: Rollout[][]; sampleSeconds: number; scoreSeconds: number }> {
  const eos = model.tokenizer.eosId;
  const t0 = performance.now();
  const sampled: Array<Array<PolicySequence & { prompt: string; stopped: boolean }>> = [];
  let k = 0;
  for (const batch of batches) {
    if (signal?.aborted) throw new StepAborted();
    // The micro-batch's responses decode together, `samples` per prompt side by side: one forward pass per token.
    const rows = batch.flatMap((p, i) => Array.from({ length: s.samples }, (_, j) => ({ p, seed: s.seedOf(k + i, j) })));
    k += batch.length;
    // One stop token, the one SFT appends, so the sampled stop is known and scored as the policy's last action.
    const results = await generateBatch(
      model,
      rows.map((r) => r.p.promptIds),
      { temperature: s.temperature, maxNewTokens: s.maxNewTokens, seeds: rows.map((r) => r.seed), stopIds: [eos], lora: nets.policy, ...(signal ? { signal } : {}) },
    );
    if (results.some((r) => r.stoppedBy === 'aborted')) throw new StepAborted();
    sampled.push(
      results.map((r, i) => {
        const stopped = r.stoppedBy === 'eos';
        return { prompt: rows[i]!.p.prompt, promptIds: rows[i]!.p.promptIds, response: stopped ? [...r.ids, eos] : r.ids, stopped };
      }),
    );
  }
  const t1 = performance.now();
  const rollouts: Rollout[][] = [];
  for (const seqs of sampled) {
    if (signal?.aborted) throw new StepAborted();
    const pol = await responseNumbers(model, seqs, s.temperature, nets.policy, nets.head);
    const ref = await responseNumbers(model, seqs, s.temperature, nets.reference, null);
    const scores = await nets.scorer.scores(seqs);
    rollouts.push(seqs.map((q, i) => ({ ...q, score: scores[i]!, logprobs: pol.logprobs[i]!, refLogprobs: ref.logprobs[i]!, entropy: pol.entropy[i]!, values: pol.values?.[i] ?? null })));
  }
  return { rollouts, sampleSeconds: (t1 - t0) / 1000, scoreSeconds: (performance.now() - t1) / 1000 };
}

/** Per response token: the advantages the clipped objective weighs, and (PPO) the value targets. */
export interface Advantages {
  advantages: Float64Array[];
  returns: Float64Array[] | null;
  /** per sequence: Σ_t (log π − log π_ref), the sequence's KL sample */
  kl: number[];
}

/**
 * PPO: per-token rewards −β·KL with the score at the last token, GAE (γ 1, λ 0.95, TRL's defaults) against the
 * value head, advantages whitened over the batch. RLOO / GRPO: the KL-penalised sequence reward score − β·ΣKL,
 * its group baseline (`samples` responses of a prompt side by side) as every token's advantage; no value head.
 * (TRL's GRPOTrainer puts its KL term in the loss instead; here all three keep it in the reward.)
 */
export function rolloutAdvantages(rollouts: readonly Rollout[], variant: PpoVariant, beta: number, samples: number): Advantages {
  const per = rollouts.map((r) => tokenRewards({ logprobs: r.logprobs, refLogprobs: r.refLogprobs, score: r.score }, beta));
  const kl = per.map((p) => p.kl.reduce((a, b) => a + b, 0));
  if (variant === 'ppo') {
    const g = rollouts.map((r, i) => gae(per[i]!.rewards, r.values!, 1, 0.95));
    return { advantages: whiten(g.map((x) => x.advantages)), returns: g.map((x) => x.returns), kl };
  }
  const advantages: Float64Array[] = [];
  for (let i = 0; i < rollouts.length; i += samples) {
    const group = rollouts.slice(i, i + samples).map((r, j) => r.score - beta * kl[i + j]!);
    groupAdvantages(group, variant).forEach((a, j) => advantages.push(new Float64Array(rollouts[i + j]!.response.length).fill(a)));
  }
  return { advantages, returns: null, kl };
}
