/** Next-token choice from logits: greedy, or temperature → top-k → top-p (nucleus) sampling with a seeded RNG. */

export interface SamplingOptions {
  /** 0 = greedy (argmax). Defaults to 0. */
  temperature?: number;
  /** Keep the smallest set of tokens whose probability reaches topP (0 < topP ≤ 1). Defaults to 1 (off). */
  topP?: number;
  /** Keep the topK most likely tokens. Defaults to 0 (off). */
  topK?: number;
}

export { seededRandom } from '../random.js';

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * Candidate tokens and their probabilities after temperature, top-k and top-p, in descending probability
 * (transformers' TopKLogitsWarper / TopPLogitsWarper semantics: top-p keeps the token that crosses the threshold).
 */
export function candidateDistribution(logits: ArrayLike<number>, opts: SamplingOptions): { ids: number[]; probs: number[] } {
  const temperature = opts.temperature ?? 0;
  if (!(temperature > 0)) return { ids: [argmax(logits)], probs: [1] };
  const V = logits.length;
  const topK = opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const topP = opts.topP ?? 1;
  let ids: number[];
  if (topK < V) ids = topKIndices(logits, topK);
  else if (topP < 1) ids = nucleusCandidates(logits, temperature, topP);
  else ids = Array.from({ length: V }, (_, i) => i);
  // Normalise over all candidates top-k left (top-p is applied below on the same distribution).
  const max = ids.reduce((m, i) => Math.max(m, logits[i]!), -Infinity);
  let total = 0;
  if (topK < V) for (const i of ids) total += Math.exp((logits[i]! - max) / temperature);
  else for (let i = 0; i < V; i++) total += Math.exp((logits[i]! - max) / temperature);
  let probs = ids.map((i) => Math.exp((logits[i]! - max) / temperature) / total);
  if (topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length) {
      cum += probs[keep]!;
      keep++;
      if (cum >= topP) break;
    }
    ids = ids.slice(0, keep);
    probs = probs.slice(0, keep);
    total = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / total);
  }
  return { ids, probs };
}

/**
 * The most likely ids in descending order, enough of them to reach probability `topP`: the top 256 usually are, so
 * a 150k vocabulary is not sorted every step; otherwise all ids, sorted.
 */
function nucleusCandidates(logits: ArrayLike<number>, temperature: number, topP: number): number[] {
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i]!);
  let total = 0;
  for (let i = 0; i < V; i++) total += Math.exp((logits[i]! - max) / temperature);
  const head = topKIndices(logits, Math.min(256, V));
  let mass = 0;
  for (const i of head) mass += Math.exp((logits[i]! - max) / temperature) / total;
  if (mass >= topP) return head;
  return Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]!);
}

/** Indices of the k largest values, descending. */
function topKIndices(values: ArrayLike<number>, k: number): number[] {
  // A k-sized min-heap would be faster for huge k; the common k (≤ 100) makes a sorted insert cheap.
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (best.length === k && v <= values[best[k - 1]!]!) continue;
    let pos = best.length;
    while (pos > 0 && values[best[pos - 1]!]! < v) pos--;
    best.splice(pos, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

export function sampleToken(logits: ArrayLike<number>, opts: SamplingOptions, random: () => number): number {
  const { ids, probs } = candidateDistribution(logits, opts);
  if (ids.length === 1) return ids[0]!;
  let r = random();
  for (let i = 0; i < ids.length; i++) {
    r -= probs[i]!;
    if (r < 0) return ids[i]!;
  }
  return ids[ids.length - 1]!;
}
