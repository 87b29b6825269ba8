/**
 * The one interface through which generation (online, item by item as they arrive) and curation (offline, over a
 * whole run or file) ask "is this a duplicate of something already kept?". Implementations: ExactDuplicateIndex
 * (normalised instruction+input), the ROUGE-L index in rouge-index.ts and MinHashIndex.
 */
export interface SimilarItem {
  id: string;
  score: number;
}

export type DuplicateKind = 'exact' | 'rouge' | 'minhash' | 'semantic';

export interface DuplicateCheck {
  /** The earlier item (seed or kept sample) this one duplicates, or null when it is new. */
  duplicateOf: SimilarItem | null;
  /** Why it is a duplicate: 'exact' (same normalised instruction+input), 'rouge' (ROUGE-L F1 above threshold),
   *  'minhash' (Jaccard of shingles at least the threshold) or 'semantic' (cosine of embeddings). */
  kind: DuplicateKind | null;
  /** The most similar earlier items, best first (for review); may be empty. */
  similar: SimilarItem[];
}

export interface DuplicateIndex {
  /** Checks an item against everything added so far; when it is not a duplicate it is added (arrival order). */
  checkAndAdd(id: string, instruction: string, input: string): DuplicateCheck;
  /** Adds an item unconditionally (seeds, or kept items when a run resumes). */
  add(id: string, instruction: string, input: string): void;
  readonly size: number;
}

/** Whitespace- and case-insensitive key: "Name  three fruits." and "name three fruits." are the same task. */
export function normalisedKey(instruction: string, input: string): string {
  const norm = (s: string) => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
  return `${norm(instruction)}\u0000${norm(input)}`;
}

export class ExactDuplicateIndex implements DuplicateIndex {
  private readonly seen = new Map<string, string>();
  get size(): number {
    return this.seen.size;
  }
  checkAndAdd(id: string, instruction: string, input: string): DuplicateCheck {
    const key = normalisedKey(instruction, input);
    const prior = this.seen.get(key);
    if (prior !== undefined) return { duplicateOf: { id: prior, score: 1 }, kind: 'exact', similar: [{ id: prior, score: 1 }] };
    this.seen.set(key, id);
    return { duplicateOf: null, kind: null, similar: [] };
  }
  /** Checks without adding (for an index that combines this one with another). */
  check(instruction: string, input: string): DuplicateCheck {
    const prior = this.seen.get(normalisedKey(instruction, input));
    if (prior !== undefined) return { duplicateOf: { id: prior, score: 1 }, kind: 'exact', similar: [{ id: prior, score: 1 }] };
    return { duplicateOf: null, kind: null, similar: [] };
  }
  add(id: string, instruction: string, input: string): void {
    const key = normalisedKey(instruction, input);
    if (!this.seen.has(key)) this.seen.set(key, id);
  }
}
