import { ResponseStore, type StoredRanking } from '../store/responses.js';
import { RunStore } from '../store/run-store.js';
import type { RankDecision, RankEntry, RankFacade } from './rank-facade.js';

/**
 * The ranking screen's view of a run (the RankFacade it is given): the usable samples with two or more responses,
 * and decisions written through to the run's rankings at once. The screen never sees the store itself.
 */
export function openRankFacade(runDir: string): RankFacade & { close(): void; summary(): { ranked: number; skipped: number; total: number } } {
  const store = RunStore.open(runDir);
  const rs = new ResponseStore(store);
  const decisionOf = (r: StoredRanking | undefined): RankDecision | null => (r ? { kind: r.kind, tiers: r.tiers } : null);
  const entries = (): RankEntry[] => {
    const byItem = rs.responsesByItem();
    const human = rs.currentRankings('human');
    const judge = rs.currentRankings('judge');
    return store
      .usableItems()
      .filter((i) => (byItem.get(i.id)?.length ?? 0) >= 2)
      .map((i) => ({
        itemId: i.id,
        instruction: i.instruction,
        input: i.input,
        responses: byItem.get(i.id)!.map((r) => ({ id: r.id, idx: r.idx, model: r.model, text: r.text ?? '', rating: r.rating })),
        judge: judge.get(i.id)?.tiers ?? null,
        human: decisionOf(human.get(i.id)),
      }));
  };
  return {
    entries,
    decide: (itemId, d) => {
      rs.addHumanRanking(itemId, d.kind, d.tiers);
    },
    undo: () => {
      const u = rs.undoHumanRanking();
      return u ? { itemId: u.itemId, current: decisionOf(rs.currentRankings('human').get(u.itemId)) } : null;
    },
    summary: () => {
      const list = entries();
      const skipped = list.filter((e) => e.human?.kind === 'skip').length;
      return { ranked: list.filter((e) => e.human && e.human.kind !== 'skip').length, skipped, total: list.length };
    },
    close: () => store.close(),
  };
}
