/**
 * The arithmetic of RLHF with PPO on one rollout batch, on plain arrays, as TRL's PPO trainer does it (Ziegler et al.
 * 2019; Ouyang et al. 2022): per-token rewards with a KL penalty, GAE, whitened advantages, the clipped policy and
 * value objectives, and the adaptive KL coefficient. RLOO and GRPO replace the value head by group baselines.
 * Nothing here touches tfjs: the trainer computes log-probs and values on the device and hands them over as numbers,
 * and the tests check every figure by hand.
 */

/** One response of a rollout: per response token (the prompt is not scored). */
export interface RolloutSeq {
  /** log π_old(token) when sampled */
  logprobs: ArrayLike<number>;
  /** log π_ref(token) from the frozen reference (SFT model, no dropout), computed once per rollout */
  refLogprobs: ArrayLike<number>;
  /** the reward model's score of the whole response */
  score: number;
}

/**
 * Per-token rewards: −β·(log π − log π_ref) at every token, plus the score at the last one (TRL's `rewards`). The
 * per-token KL here is the plain estimator k1 = log π − log π_ref, whose sum over a sequence is that sequence's KL
 * sample.
 */
export function tokenRewards(seq: RolloutSeq, beta: number): { rewards: Float64Array; kl: Float64Array } {
  const n = seq.logprobs.length;
  const rewards = new Float64Array(n);
  const kl = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    kl[t] = seq.logprobs[t]! - seq.refLogprobs[t]!;
    rewards[t] = -beta * kl[t]!;
  }
  if (n > 0) rewards[n - 1]! += seq.score;
  return { rewards, kl };
}

/**
 * Generalised advantage estimation (Schulman et al. 2016): δ_t = r_t + γ·V_{t+1} − V_t with V after the last token
 * 0, A_t = δ_t + γλ·A_{t+1}; the value targets are A + V.
 */
export function gae(rewards: ArrayLike<number>, values: ArrayLike<number>, gamma: number, lambda: number): { advantages: Float64Array; returns: Float64Array } {
  const n = rewards.length;
  if (values.length !== n) throw new TypeError(`gae: ${n} rewards but ${values.length} values`);
  const advantages = new Float64Array(n);
  const returns = new Float64Array(n);
  let next = 0;
  let nextValue = 0;
  for (let t = n - 1; t >= 0; t--) {
    const delta = rewards[t]! + gamma * nextValue - values[t]!;
    next = delta + gamma * lambda * next;
    advantages[t] = next;
    returns[t] = next + values[t]!;
    nextValue = values[t]!;
  }
  return { advantages, returns };
}

/** Advantages whitened over the whole batch's response tokens (mean 0, unit variance), as TRL's masked_whiten. */
export function whiten(seqs: readonly Float64Array[], shiftMean = true): Float64Array[] {
  let n = 0;
  let sum = 0;
  for (const s of seqs) for (const v of s) (sum += v), n++;
  if (n === 0) return seqs.map((s) => Float64Array.from(s));
  const mean = sum / n;
  let ss = 0;
  for (const s of seqs) for (const v of s) ss += (v - mean) ** 2;
  // TRL uses the unbiased variance (Bessel's correction) when there is more than one token.
  const variance = n > 1 ? ss / (n - 1) : ss;
  const inv = 1 / Math.sqrt(variance + 1e-8);
  return seqs.map((s) => Float64Array.from(s, (v) => (v - mean) * inv + (shiftMean ? 0 : mean)));
}

export interface ClipSettings {
  /** ε of the policy's clipped ratio (TRL cliprange, 0.2) */
  clip: number;
  /** the value head's clip range around the rollout's values (TRL cliprange_value, 0.2) */
  clipValue: number;
  /** weight of the value loss in the total (TRL vf_coef, 0.1) */
  valueCoef: number;
}

export interface PpoTokenBatch {
  /** log π_new at the sampled tokens (the current policy, during the update) */
  newLogprobs: ArrayLike<number>;
  /** log π_old, from the rollout */
  oldLogprobs: ArrayLike<number>;
  advantages: ArrayLike<number>;
  /** the value head's prediction now */
  values: ArrayLike<number>;
  /** the value head's prediction at rollout time */
  oldValues: ArrayLike<number>;
  returns: ArrayLike<number>;
}

export interface PpoLoss {
  loss: number;
  policyLoss: number;
  valueLoss: number;
  /** share of tokens whose clipped term was the larger (TRL policy/clipfrac_avg) */
  clipFrac: number;
  valueClipFrac: number;
  /** ½·mean((log π_new − log π_old)²), TRL's policy/approxkl_avg */
  approxKl: number;
  /** per token: dLoss/d(log π_new) and dLoss/d(value), to weight the device's gradients */
  dLogprob: Float64Array;
  dValue: Float64Array;
}

/**
 * The clipped surrogate (Schulman et al. 2017) and the clipped value loss, token-averaged, with their gradients
 * with respect to the new log-probs and values. Where the clipped policy term is the larger, its gradient is 0 (the
 * ratio is outside [1−ε, 1+ε] on the side the advantage favours).
 */
export function ppoLoss(b: PpoTokenBatch, s: ClipSettings): PpoLoss {
  const n = b.newLogprobs.length;
  const dLogprob = new Float64Array(n);
  const dValue = new Float64Array(n);
  if (n === 0) return { loss: 0, policyLoss: 0, valueLoss: 0, clipFrac: 0, valueClipFrac: 0, approxKl: 0, dLogprob, dValue };
  let pg = 0;
  let vf = 0;
  let clipped = 0;
  let vClipped = 0;
  let approx = 0;
  for (let t = 0; t < n; t++) {
    const logRatio = b.newLogprobs[t]! - b.oldLogprobs[t]!;
    const ratio = Math.exp(logRatio);
    const a = b.advantages[t]!;
    const unclippedLoss = -a * ratio;
    const clippedRatio = Math.min(Math.max(ratio, 1 - s.clip), 1 + s.clip);
    const clippedLoss = -a * clippedRatio;
    if (clippedLoss > unclippedLoss) {
      pg += clippedLoss;
      // The clipped term wins only when the ratio is clamped, where it passes no gradient.
      clipped++;
    } else {
      pg += unclippedLoss;
      dLogprob[t] = (-a * ratio) / n;
    }
    approx += 0.5 * logRatio * logRatio;

    const v = b.values[t]!;
    const old = b.oldValues[t]!;
    const ret = b.returns[t]!;
    const vClip = Math.min(Math.max(v, old - s.clipValue), old + s.clipValue);
    const l1 = (v - ret) ** 2;
    const l2 = (vClip - ret) ** 2;
    if (l2 > l1) {
      // The clipped term wins only when v lies outside the range, where the clamp passes no gradient.
      vf += l2;
      vClipped++;
    } else {
      vf += l1;
      dValue[t] = (s.valueCoef * 0.5 * 2 * (v - ret)) / n;
    }
  }
  const policyLoss = pg / n;
  const valueLoss = (0.5 * vf) / n;
  return { loss: policyLoss + s.valueCoef * valueLoss, policyLoss, valueLoss, clipFrac: clipped / n, valueClipFrac: vClipped / n, approxKl: approx / n, dLogprob, dValue };
}

/**
 * Ziegler et al. (2019)'s adaptive KL coefficient, as TRL's AdaptiveKLController: β is multiplied by
 * 1 + clip(KL/target − 1, −0.2, 0.2)·steps/horizon after each batch, so the observed KL is pulled toward the target.
 */
export class AdaptiveKlController {
  constructor(
    public value: number,
    private readonly target: number,
    private readonly horizon: number,
  ) {
    if (!(target > 0)) throw new TypeError(`target KL must be positive, got ${target}`);
    if (!(horizon > 0)) throw new TypeError(`KL horizon must be positive, got ${horizon}`);
  }

  update(currentKl: number, steps: number): number {
    const error = Math.min(Math.max(currentKl / this.target - 1, -0.2), 0.2);
    this.value *= 1 + (error * steps) / this.horizon;
    return this.value;
  }
}

/**
 * Sequence-level advantages from a group of k responses to one prompt, with no value head. RLOO (Ahmadian et al.
 * 2024): each response's baseline is the mean of the other k−1. GRPO (Shao et al. 2024): (r − mean) / (std + ε), the
 * standard deviation unbiased as in TRL's GRPOTrainer.
 */
export function groupAdvantages(rewards: readonly number[], variant: 'rloo' | 'grpo'): number[] {
  const k = rewards.length;
  if (k < 2) throw new TypeError(`${variant} needs at least 2 responses per prompt, got ${k}`);
  const sum = rewards.reduce((a, b) => a + b, 0);
  if (variant === 'rloo') return rewards.map((r) => r - (sum - r) / (k - 1));
  const mean = sum / k;
  const std = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / (k - 1));
  return rewards.map((r) => (r - mean) / (std + 1e-4));
}

/** Mean entropy of the sampling distributions at the response tokens, from each position's log-probabilities. */
export function meanEntropy(logProbRows: readonly ArrayLike<number>[]): number {
  if (logProbRows.length === 0) return 0;
  let total = 0;
  for (const row of logProbRows) {
    let h = 0;
    for (let i = 0; i < row.length; i++) {
      const lp = row[i]!;
      if (lp > -Infinity) h -= Math.exp(lp) * lp;
    }
    total += h;
  }
  return total / logProbRows.length;
}
