import { formatAlpacaPrompt } from '../model/alpaca-prompt.js';
import { ResponseStore, type Tiers } from '../store/responses.js';
import type { RunStore } from '../store/run-store.js';
import type { RewardModel } from './methods/reward-model.js';

export interface RewardRankOutcome {
  /** samples whose responses were scored and ordered */
  ranked: number;
  /** of those, samples with two responses of exactly equal reward (a tie, as the judge records equal ratings) */
  withTies: number;
  /** samples skipped for having fewer than two answered responses */
  skipped: number;
}

/** Response ids in tiers by reward, best first; exactly equal rewards share a tier (and make no pair). */
export function tiersByReward(scored: ReadonlyArray<{ id: number; reward: number }>): Tiers {
  const byReward = new Map<number, number[]>();
  for (const s of scored) byReward.set(s.reward, [...(byReward.get(s.reward) ?? []), s.id]);
  return [...byReward.entries()].sort((a, b) => b[0] - a[0]).map(([, ids]) => ids);
}

/**
 * `curate --reward-model`: the judge's ranking of a run's candidate responses, from a trained reward model instead
 * of an LLM judge (local, offline, free). Each usable sample with two or more answered responses gets the order of
 * their rewards as its judge ranking, which export and DPO/RM training read as they read the judge's.
 */
export async function rankRunWithRewardModel(store: RunStore, rm: RewardModel, onProgress?: (done: number, total: number) => void): Promise<RewardRankOutcome> {
  const rs = new ResponseStore(store);
  const byItem = rs.responsesByItem();
  const items = store.usableItems();
  const current = rs.currentRankings('judge');
  let ranked = 0;
  let withTies = 0;
  let skipped = 0;
  for (const [k, item] of items.entries()) {
    const answered = (byItem.get(item.id) ?? []).filter((r) => r.status === 'ok' && r.text !== null).sort((a, b) => a.idx - b.idx);
    if (answered.length < 2) {
      skipped++;
      continue;
    }
    const prompt = formatAlpacaPrompt(item);
    const rewards = await rm.rewards(answered.map((r) => ({ prompt, response: r.text! })));
    const tiers = tiersByReward(answered.map((r, i) => ({ id: r.id, reward: rewards[i]! })));
    ranked++;
    if (tiers.some((t) => t.length > 1)) withTies++;
    if (JSON.stringify(current.get(item.id)?.tiers) !== JSON.stringify(tiers)) rs.setJudgeRanking(item.id, tiers);
    onProgress?.(k + 1, items.length);
  }
  return { ranked, withTies, skipped };
}
