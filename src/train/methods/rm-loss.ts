import type { DpoStepMetrics } from '../../events.js';

export interface RewardPairLoss {
  loss: number;
  /** dLoss/d r_chosen and dLoss/d r_rejected */
  dChosen: number;
  dRejected: number;
  rewardChosen: number;
  rewardRejected: number;
}

/**
 * Bradley–Terry pair loss of a reward model, −log σ(r_chosen − r_rejected − margin), as TRL's RewardTrainer computes
 * it (the margin, when a pair has one, asks for at least that gap). Written as softplus(−h) so it stays finite.
 */
export function rewardPairLoss(rewardChosen: number, rewardRejected: number, margin = 0): RewardPairLoss {
  const h = rewardChosen - rewardRejected - margin;
  const loss = h > 0 ? Math.log1p(Math.exp(-h)) : -h + Math.log1p(Math.exp(h));
  // d softplus(−h)/dh = −σ(−h)
  const s = h > 0 ? Math.exp(-h) / (1 + Math.exp(-h)) : 1 / (1 + Math.exp(h));
  return { loss, dChosen: -s, dRejected: s, rewardChosen, rewardRejected };
}

/** Means over pairs, in the shape the DPO metrics have (TRL: accuracy, rewards/chosen, rewards/rejected, margin). */
export function summariseRewardPairs(pairs: readonly RewardPairLoss[]): DpoStepMetrics {
  const n = Math.max(1, pairs.length);
  const mean = (f: (p: RewardPairLoss) => number) => pairs.reduce((s, p) => s + f(p), 0) / n;
  return {
    loss: mean((p) => p.loss),
    rewardsChosen: mean((p) => p.rewardChosen),
    rewardsRejected: mean((p) => p.rewardRejected),
    margin: mean((p) => p.rewardChosen - p.rewardRejected),
    accuracy: mean((p) => (p.rewardChosen > p.rewardRejected ? 1 : p.rewardChosen === p.rewardRejected ? 0.5 : 0)),
  };
}

/** train_log.jsonl keys as TRL's RewardTrainer logs them; the skeleton puts eval_ in front for evaluations. */
export function rewardLogFields(m: DpoStepMetrics): Record<string, number> {
  return { accuracy: m.accuracy, 'rewards/chosen': m.rewardsChosen, 'rewards/rejected': m.rewardsRejected, margin: m.margin };
}
