import { ResponseStore } from '../../src/store/responses.js';
import type { RunStore } from '../../src/store/run-store.js';
import { makeRun, type FixtureItem } from '../ui/run-fixture.js';

export interface ResponseRun {
  dir: string;
  store: RunStore;
  responses: ResponseStore;
  itemIds: number[];
  /** Response ids by item index, then response idx. */
  ids: number[][];
}

/** A run whose items each have candidate responses, as `respond` writes them (idx 0 is the item's own output). */
export function makeResponseRun(items: Array<FixtureItem & { responses: string[] }>, dir?: string): ResponseRun {
  const { dir: runDir, store, ids: itemIds } = makeRun(items, dir);
  const responses = new ResponseStore(store);
  const sampling = { temperature: 0.8, topP: 1, maxTokens: 256, seed: null };
  items.forEach((it, i) => {
    const itemId = itemIds[i]!;
    responses.addSampleResponse(itemId, it.output, 'gen-model', { ...sampling, temperature: 1 });
    it.responses.forEach((text, k) => {
      const id = responses.beginResponse(itemId, k + 1, k % 2 === 0 ? 'model-a' : 'model-b', sampling);
      responses.completeResponse(id, { text, finishReason: 'stop', promptTokens: 10, completionTokens: 5, costUsd: 0.0001 });
    });
  });
  const all = responses.listResponses();
  return { dir: runDir, store, responses, itemIds, ids: itemIds.map((itemId) => all.filter((r) => r.itemId === itemId).map((r) => r.id)) };
}

/** Three samples with three responses each. */
export function threeSamples(): Array<FixtureItem & { responses: string[] }> {
  return [
    { instruction: 'Name three primary colours.', output: 'Red, blue and yellow.', responses: ['Red, yellow, blue.', 'Green.'] },
    { instruction: 'Sort these numbers ascending.', input: '5, 2, 9', output: '2, 5, 9', responses: ['9, 5, 2', '2, 5, 9.'] },
    { instruction: 'Is 17 a prime number?', output: 'Yes.', responses: ['Yes, 17 is prime.', 'No.'] },
  ];
}
