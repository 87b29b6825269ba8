import { ResponseStore } from '../store/responses.js';
import type { RunStore, StoredItem } from '../store/run-store.js';
import type { WriteOutputOptions } from '../io/write-output.js';
import { writePairs, type DpoFormat } from './dpo-formats.js';
import { buildPairs, type PairMode, type PairStats } from './preference-pairs.js';

export interface PairExport extends PairStats {
  pairs: number;
  /** Selected items that have at least two responses. */
  withResponses: number;
}

/** Writes the preference pairs of the given items (human rankings first, the judge's otherwise). */
export function exportPairs(store: RunStore, items: StoredItem[], opts: { out: string; format: DpoFormat; pairs: PairMode; write?: WriteOutputOptions }): PairExport {
  const rs = new ResponseStore(store);
  const responses = rs.responsesByItem();
  const { pairs, stats } = buildPairs(items, responses, { human: rs.currentRankings('human'), judge: rs.currentRankings('judge') }, opts.pairs);
  writePairs(opts.out, pairs, opts.format, opts.write);
  return { ...stats, pairs: pairs.length, withResponses: items.filter((i) => (responses.get(i.id)?.length ?? 0) >= 2).length };
}
