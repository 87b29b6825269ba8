/** Removals of one duplicate method, with how similar each removed item was to the item it duplicates. */
export interface DedupMethodReport {
  /** 'exact', 'rouge', 'minhash', 'semantic' (from the reason 'duplicate:<method>'). */
  method: string;
  removed: number;
  /** Similarity (ROUGE-L F1, Jaccard or cosine) in bins of 0.05; exact duplicates all fall in the last bin. */
  bins: Array<{ from: number; to: number; count: number }>;
}

const WIDTH = 0.05;

/**
 * Per duplicate method: removals and a histogram of their similarity, for `stats` and the report. Items are what
 * curation recorded (reason 'duplicate:<method>' and the similarity to the kept item). Each histogram spans from
 * the lowest bin that holds a removal to 1.
 */
export function dedupReport(items: Iterable<{ reason: string | null; similarity: number | null }>): DedupMethodReport[] {
  const byMethod = new Map<string, number[]>();
  for (const it of items) {
    if (!it.reason?.startsWith('duplicate:')) continue;
    const method = it.reason.slice('duplicate:'.length);
    let list = byMethod.get(method);
    if (!list) byMethod.set(method, (list = []));
    list.push(it.similarity ?? 1);
  }
  return [...byMethod.entries()]
    .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
    .map(([method, sims]) => {
      const last = Math.round(1 / WIDTH) - 1;
      const bin = (s: number) => Math.max(0, Math.min(last, Math.floor(s / WIDTH + 1e-9)));
      // A loop, not Math.min(...): spreading 650K similarities overflows the call stack.
      const first = sims.reduce((m, s) => Math.min(m, bin(s)), last);
      const bins = Array.from({ length: last - first + 1 }, (_, i) => ({ from: round((first + i) * WIDTH), to: round((first + i + 1) * WIDTH), count: 0 }));
      for (const s of sims) bins[bin(s) - first]!.count++;
      return { method, removed: sims.length, bins };
    });
}

const round = (x: number) => Math.round(x * 100) / 100;

/** One line per method for the terminal: its removals and the histogram as a row of counts. */
export function dedupLines(methods: readonly DedupMethodReport[]): string[] {
  return methods.map(
    (m) => `  ${m.method.padEnd(9)} ${String(m.removed).padStart(7)} removed; similarity ${m.bins.filter((b) => b.count).map((b) => `${b.from.toFixed(2)}–${b.to.toFixed(2)}: ${b.count}`).join(', ')}`,
  );
}
