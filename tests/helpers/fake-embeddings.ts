/**
 * Deterministic embeddings for the loopback server's /v1/embeddings: a hashed bag of content words (stop words
 * dropped, a few synonyms folded together, each Chinese character a word), normalised. So a paraphrase that
 * reorders a task or swaps a word for its synonym lands at cosine near 1, and unrelated tasks near 0.
 */
const synonyms: Record<string, string> = {
  compose: 'write', draft: 'write', create: 'write', brief: 'short', concise: 'short', verse: 'poem', describe: 'explain',
  outline: 'list', ocean: 'sea', tale: 'story', kids: 'children', automobile: 'car', 撰写: '写', 简短: '短',
};
const stop = new Set('a an the of about for to me please some in on and that is are with your my you can could would'.split(' '));

export function fakeEmbedding(text: string, dim = 64): number[] {
  const words = (text.toLowerCase().match(/[a-z0-9]+|\p{Script=Han}/gu) ?? []).map((w) => synonyms[w] ?? w).filter((w) => !stop.has(w));
  const v = new Array<number>(dim).fill(0);
  for (const w of words) {
    let h = 0x811c9dc5;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 0x01000193);
    for (let k = 0; k < 3; k++) {
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
      v[h % dim]! += h & 0x80000000 ? 1 : -1;
    }
  }
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}
