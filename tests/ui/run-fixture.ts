import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore, type CurationStatus, type SimilarRef } from '../../src/store/run-store.js';

export interface FixtureItem {
  instruction: string;
  input?: string;
  output: string;
  status?: CurationStatus;
  reason?: string | null;
  similar?: SimilarRef[];
  judgeScore?: number | null;
}

/** A run written the way generation and curation write one: items arrive with a request, judge scores after. */
export function makeRun(items: FixtureItem[], dir = join(mkdtempSync(join(tmpdir(), 'forge-ui-')), 'run')): { dir: string; store: RunStore; ids: number[] } {
  const store = RunStore.open(dir, { create: true });
  const req = store.beginRequest([]);
  const rows = items.map((it, idx) => ({
    id: store.allocateItemId(),
    idx,
    instruction: it.instruction,
    input: it.input ?? '',
    output: it.output,
    status: it.status ?? 'kept',
    reason: it.reason ?? null,
    duplicateOf: it.status === 'duplicate' ? (it.similar?.[0]?.id ?? null) : null,
    similarity: it.similar?.[0]?.score ?? null,
    similar: it.similar ?? [],
  }));
  store.completeRequest(req, { raw: '[]', finishReason: 'stop', promptTokens: 100, completionTokens: 200, costUsd: 0.001 }, rows);
  items.forEach((it, i) => {
    if (it.judgeScore !== undefined && it.judgeScore !== null) store.setJudge(rows[i]!.id, it.judgeScore, `score ${it.judgeScore}`);
  });
  return { dir, store, ids: rows.map((r) => r.id) };
}

/** Ten samples with varied status, reason, judge score, similarity and length. */
export function sampleItems(): FixtureItem[] {
  return [
    { instruction: 'Name three primary colours.', output: 'Red, blue and yellow.', judgeScore: 4, similar: [{ id: 'seed:seed_task_1', score: 0.31 }] },
    { instruction: 'Translate "good morning" into French.', output: 'Bonjour.', judgeScore: 5, similar: [{ id: '1', score: 0.12 }] },
    { instruction: 'Write a haiku about autumn rain.', output: 'Cold rain on the roof\nleaves drown in amber puddles\nthe year exhales slow', judgeScore: 3 },
    {
      instruction: 'Name three primary colors.',
      output: 'Red, yellow, blue.',
      status: 'duplicate',
      reason: 'rouge',
      similar: [{ id: '1', score: 0.91 }],
      judgeScore: null,
    },
    { instruction: 'Describe an image of a cat.', output: 'I cannot see images.', status: 'rejected', reason: 'blacklist:image', judgeScore: null },
    { instruction: 'Summarise the plot of Hamlet in one sentence.', output: 'A Danish prince avenges his father and everyone dies.', judgeScore: 4, similar: [{ id: '3', score: 0.2 }] },
    { instruction: 'Sort these numbers ascending.', input: '5, 2, 9, 1', output: '1, 2, 5, 9', judgeScore: 2 },
    { instruction: 'Is 17 a prime number?', output: 'Yes, 17 is prime: its only divisors are 1 and 17.', judgeScore: 5, similar: [{ id: '7', score: 0.4 }] },
    { instruction: 'Give', output: 'x', status: 'rejected', reason: 'too-short', judgeScore: null },
    { instruction: 'Explain recursion to a child.', output: 'Recursion is when something is defined using a smaller copy of itself, like Russian dolls.', judgeScore: 1 },
  ];
}
