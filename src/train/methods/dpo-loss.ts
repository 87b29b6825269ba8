import type { DpoStepMetrics } from '../../events.js';
import type { DpoLoss } from '../recipes/recipe.js';

/** Summed response log-probabilities of one preference pair under the policy and the frozen reference. */
export interface PairLogps {
  policyChosen: number;
  policyRejected: number;
  refChosen: number;
  refRejected: number;
}

export interface PairLoss {
  loss: number;
  /** dLoss/d(policyChosen) and dLoss/d(policyRejected): the weights of the two sequences' log-prob gradients */
  dChosen: number;
  dRejected: number;
  /** implicit rewards β·(log π − log π_ref), as TRL logs them */
  rewardChosen: number;
  rewardRejected: number;
}

/**
 * DPO (Rafailov et al. 2023, eq. 7): −log σ(β·h) with h = (log πc − log πref,c) − (log πr − log πref,r), on summed
 * log-probs. IPO (Azar et al. 2023): (h − 1/(2β))². Both are written in forms that stay finite for any |h|.
 */
export function dpoPairLoss(p: PairLogps, beta: number, kind: DpoLoss): PairLoss {
  const h = p.policyChosen - p.refChosen - (p.policyRejected - p.refRejected);
  const rewardChosen = beta * (p.policyChosen - p.refChosen);
  const rewardRejected = beta * (p.policyRejected - p.refRejected);
  if (kind === 'ipo') {
    const d = h - 1 / (2 * beta);
    return { loss: d * d, dChosen: 2 * d, dRejected: -2 * d, rewardChosen, rewardRejected };
  }
  const z = beta * h;
  // −log σ(z) = softplus(−z); d/dz = −σ(−z)
  const loss = z > 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z));
  const dz = -sigmoid(-z);
  return { loss, dChosen: beta * dz, dRejected: -beta * dz, rewardChosen, rewardRejected };
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export type DpoMetrics = DpoStepMetrics;

export function summarisePairs(pairs: readonly PairLoss[]): DpoMetrics {
  const n = pairs.length || 1;
  let loss = 0;
  let rc = 0;
  let rr = 0;
  let acc = 0;
  for (const p of pairs) {
    loss += p.loss;
    rc += p.rewardChosen;
    rr += p.rewardRejected;
    acc += p.rewardChosen > p.rewardRejected ? 1 : p.rewardChosen === p.rewardRejected ? 0.5 : 0;
  }
  return { loss: loss / n, rewardsChosen: rc / n, rewardsRejected: rr / n, margin: (rc - rr) / n, accuracy: acc / n };
}
