import type { SimilarItem } from './duplicate-index.js';
import { keepOrder, type KeepCandidate, type KeepRule } from './keep-order.js';
import { semanticDuplicates } from './semantic-dedup.js';

export type Embed = (texts: string[]) => Promise<Float32Array[]>;

/** The text a paraphrase is judged by: the task, as instruction and input. */
export function semanticText(it: { instruction: string; input: string }): string {
  return it.input.trim() ? `${it.instruction}\n${it.input}` : it.instruction;
}

/**
 * Semantic duplicates of the items that passed the rules (and decontamination), in the keep rule's order: item key →
 * the kept item it paraphrases and their cosine. curateItems then treats these as duplicates before the other
 * methods, so a paraphrase never enters their indexes.
 */
export async function semanticMap(
  items: ReadonlyArray<KeepCandidate & { key: string }>,
  passed: readonly boolean[],
  cfg: { threshold: number; keep: KeepRule },
  embed: Embed,
): Promise<Map<string, SimilarItem>> {
  const subset = items.filter((_, i) => passed[i]);
  const vectors = await embed(subset.map(semanticText));
  const dups = semanticDuplicates(vectors, keepOrder(subset, cfg.keep), { threshold: cfg.threshold });
  const map = new Map<string, SimilarItem>();
  dups.forEach((d, i) => {
    if (d) map.set(subset[i]!.key, { id: subset[d.of]!.key, score: d.cosine });
  });
  return map;
}
