/** Which copy of a duplicate survives (`curation.dedup.keep`, `curate --keep`). */
export const keepRules = ['first', 'judge', 'longest', 'ifd'] as const;
export type KeepRule = (typeof keepRules)[number];

export interface KeepCandidate {
  instruction: string;
  input: string;
  output: string;
  judgeScore?: number | null;
  /** Instruction-following difficulty from `alpaca-forge score --ifd`; higher is kept. */
  ifd?: number | null;
}

/**
 * The order in which items enter the duplicate indexes: each index keeps the first of a group it sees, so visiting
 * the best copy first makes it the survivor. `first` is arrival order; the others sort best first, unscored items
 * last, and break ties by arrival so the result is the same on every run.
 */
export function keepOrder(items: readonly KeepCandidate[], rule: KeepRule): number[] {
  const order = items.map((_, i) => i);
  if (rule === 'first') return order;
  const score = (it: KeepCandidate): number => {
    if (rule === 'judge') return it.judgeScore ?? -Infinity;
    if (rule === 'ifd') return it.ifd ?? -Infinity;
    return it.instruction.length + it.input.length + it.output.length;
  };
  const scores = items.map(score);
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}
