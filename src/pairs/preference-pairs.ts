import type { StoredRanking, StoredResponse, Tiers } from '../store/responses.js';
import type { StoredItem } from '../store/run-store.js';

/**
 * Preference pairs from rankings. A ranking is a list of tiers (best first; a tier of several is a tie), so both a
 * person's best/worst pick ([best], [the rest], [worst]) and a full order read the same way: every response is
 * preferred to every response in a later tier. Tied responses never form a pair.
 */
export const pairModes = ['best-worst', 'all'] as const;
export type PairMode = (typeof pairModes)[number];

export interface PreferencePair {
  item: StoredItem;
  chosen: StoredResponse;
  rejected: StoredResponse;
  /** Whose ranking the pair comes from. */
  source: 'human' | 'judge';
}

export interface PairStats {
  /** Items whose pairs came from a person's ranking, and from the judge's. */
  fromHuman: number;
  fromJudge: number;
  /** Selected items with responses but no ranking usable for a pair (none, skipped, or everything tied). */
  unranked: number;
  /** Pairs left out because chosen and rejected had the same text. */
  identical: number;
  /**
   * Items paired from a ranking that leaves out some of their current responses (respond added responses after the
   * ranking, e.g. K grew from 3 to 5): the pairs still come from that ranking. `staleExample` is one of them.
   */
  stale: number;
  staleExample: { ranked: number; responses: number } | null;
}

/** (chosen, rejected) response ids implied by tiers. best-worst: the first of the top tier against the first of the bottom tier. */
export function pairsFromTiers(tiers: Tiers, mode: PairMode): Array<[number, number]> {
  if (tiers.length < 2) return [];
  if (mode === 'best-worst') return [[tiers[0]![0]!, tiers[tiers.length - 1]![0]!]];
  const out: Array<[number, number]> = [];
  for (let i = 0; i < tiers.length; i++) for (let j = i + 1; j < tiers.length; j++) for (const a of tiers[i]!) for (const b of tiers[j]!) out.push([a, b]);
  return out;
}

/** Keeps only responses that still exist with text, and drops tiers left empty. */
function usableTiers(tiers: Tiers, byId: Map<number, StoredResponse>): Tiers {
  return tiers.map((t) => t.filter((id) => (byId.get(id)?.text ?? '').trim() !== '')).filter((t) => t.length > 0);
}

/** Pairs of each item from its human ranking when it has one (skips do not count), else from the judge's. */
export function buildPairs(
  items: StoredItem[],
  responses: Map<number, StoredResponse[]>,
  rankings: { human: Map<number, StoredRanking>; judge: Map<number, StoredRanking> },
  mode: PairMode,
): { pairs: PreferencePair[]; stats: PairStats } {
  const pairs: PreferencePair[] = [];
  const stats: PairStats = { fromHuman: 0, fromJudge: 0, unranked: 0, identical: 0, stale: 0, staleExample: null };
  for (const item of items) {
    const list = responses.get(item.id);
    if (!list || list.length < 2) continue;
    const byId = new Map(list.map((r) => [r.id, r]));
    const human = rankings.human.get(item.id);
    const judge = rankings.judge.get(item.id);
    const candidates: Array<{ source: 'human' | 'judge'; tiers: Tiers; at: string }> = [];
    if (human?.tiers && human.kind !== 'skip') candidates.push({ source: 'human', tiers: usableTiers(human.tiers, byId), at: human.createdAt });
    if (judge?.tiers) candidates.push({ source: 'judge', tiers: usableTiers(judge.tiers, byId), at: judge.createdAt });
    const pick = candidates.find((c) => c.tiers.length >= 2);
    if (!pick) {
      stats.unranked++;
      continue;
    }
    if (pick.source === 'human') stats.fromHuman++;
    else stats.fromJudge++;
    const ranked = new Set(pick.tiers.flat());
    const usable = list.filter((r) => (r.text ?? '').trim() !== '');
    // Only responses made since the ranking count: one the judge could not rate is left out of its ranking on purpose.
    if (usable.some((r) => !ranked.has(r.id) && r.createdAt >= pick.at)) {
      stats.stale++;
      stats.staleExample ??= { ranked: ranked.size, responses: usable.length };
    }
    for (const [a, b] of pairsFromTiers(pick.tiers, mode)) {
      const chosen = byId.get(a)!;
      const rejected = byId.get(b)!;
      if (chosen.text!.trim() === rejected.text!.trim()) {
        stats.identical++;
        continue;
      }
      pairs.push({ item, chosen, rejected, source: pick.source });
    }
  }
  return { pairs, stats };
}
