import type { StoredItem } from '../../review/run-access.js';

export interface SimilarInfo {
  /** '#123' for a run item, 'seed seed_task_7' for a seed task, the raw id otherwise */
  label: string;
  /** its instruction, when it can be found */
  instruction: string | null;
  /** ROUGE-L F1 against it */
  score: number;
}

/**
 * The most similar earlier task of an item. Curation names it by id: a numeric string is an item of this run,
 * 'seed:<id>' is a seed task (looked up through `seedInstruction`, which may not know it).
 */
export function resolveSimilar(
  item: StoredItem,
  itemById: (id: number) => StoredItem | undefined,
  seedInstruction: (seedId: string) => string | undefined = () => undefined,
): SimilarInfo | null {
  const ref = item.similar[0] ?? (item.duplicateOf !== null && item.similarity !== null ? { id: item.duplicateOf, score: item.similarity } : undefined);
  if (!ref) return null;
  if (/^\d+$/.test(ref.id)) {
    const other = itemById(Number(ref.id));
    return { label: `#${ref.id}`, instruction: other?.instruction ?? null, score: ref.score };
  }
  if (ref.id.startsWith('seed:')) {
    const seedId = ref.id.slice('seed:'.length);
    return { label: `seed ${seedId}`, instruction: seedInstruction(seedId) ?? null, score: ref.score };
  }
  return { label: ref.id, instruction: null, score: ref.score };
}
