/**
 * What the ranking screen needs of a run, injected by the launcher (the implementation lives outside ui/, in
 * src/review/rank-review.ts): the samples with their candidate responses, and a write-through decision log.
 */

/** Response ids, best tier first; ids sharing a tier are tied. */
export type RankTiers = number[][];

export interface RankCandidate {
  id: number;
  /** 0 is the sample's own output. */
  idx: number;
  model: string;
  text: string;
  /** The judge's mean rating (1–10), if rated. */
  rating: number | null;
}

export interface RankDecision {
  kind: 'order' | 'best-worst' | 'skip';
  tiers: RankTiers | null;
}

export interface RankEntry {
  itemId: number;
  instruction: string;
  input: string;
  responses: RankCandidate[];
  /** The judge's order, if `curate --rank` made one. */
  judge: RankTiers | null;
  /** The person's current decision. */
  human: RankDecision | null;
}

export interface RankFacade {
  /** Samples with two or more responses, in run order. */
  entries(): RankEntry[];
  /** Records a decision at once. */
  decide(itemId: number, decision: RankDecision): void;
  /** Undoes the latest decision; returns its sample and that sample's decision now (an earlier one, or none). */
  undo(): { itemId: number; current: RankDecision | null } | null;
}
