import { formatAlpacaPrompt } from '../model/alpaca-prompt.js';
import { ResponseStore } from '../store/responses.js';
import { RunStore } from '../store/run-store.js';
import { buildPairs, type PairMode, type PairStats } from './preference-pairs.js';

/**
 * The preference pairs a run's rankings give, as DPO trains on them (the prompt in the Alpaca template): the same
 * samples SFT would use (accepted, or kept and not rejected), a person's ranking first and the judge's otherwise —
 * exactly what `export --format dpo` writes for the run.
 */
export function loadRunPreferencePairs(runDir: string, mode: PairMode = 'best-worst'): { pairs: Array<{ prompt: string; chosen: string; rejected: string }>; stats: PairStats } {
  const store = RunStore.open(runDir);
  try {
    const rs = new ResponseStore(store);
    const { pairs, stats } = buildPairs(store.usableItems(), rs.responsesByItem(), { human: rs.currentRankings('human'), judge: rs.currentRankings('judge') }, mode);
    return { pairs: pairs.map((p) => ({ prompt: formatAlpacaPrompt(p.item), chosen: p.chosen.text!, rejected: p.rejected.text! })), stats };
  } finally {
    store.close();
  }
}
