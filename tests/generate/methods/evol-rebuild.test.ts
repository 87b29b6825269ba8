import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generationConfigSchema } from '../../../src/config/generation.js';
import { buildMethod } from '../../../src/generate/methods/build-method.js';
import { EvolMethod } from '../../../src/generate/methods/evol-method.js';
import { RunStore } from '../../../src/store/run-store.js';
import { ProvenanceStore } from '../../../src/store/provenance-store.js';

const result = (raw: string) => ({ raw, finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0 });

test('a rebuilt evol method asks the response of an evolution answered before the restart, counts queued steps, and re-evolves only the rest', () => {
  const store = RunStore.open(join(mkdtempSync(join(tmpdir(), 'forge-evol-rebuild-')), 'run'), { create: true });
  const prov = new ProvenanceStore(store);
  prov.importSources(['Name a river.', 'Name a mountain.', 'Name a lake.', 'Name a desert.'].map((instruction) => ({ instruction, input: '', output: 'x' })));
  const [a, b, c, d] = prov.keptOfRound(0);
  const state = (p: typeof a) => ({ method: 'evol', request: 'chat', state: { stage: 'evolve', parent: p, operator: 'deepen', round: 1 } });
  // a: evolved and answered, then the process died before its response was asked.
  const ra = store.nextRequestId();
  store.beginRequest(state(a!), 'generate', ra);
  store.completeRequest(ra, result('Name a river longer than 1,000 km and say which seas it crosses.'), []);
  // b: its evolution is queued in a batch round not ingested yet.
  store.queueBatch({ kind: 'file', inputPath: 'requests.jsonl', requests: [{ id: store.nextRequestId(), examples: state(b!) }] });
  // c: its evolution was cut off by a kill (abandoned): evolved again.
  const rc = store.nextRequestId();
  store.beginRequest(state(c!), 'generate', rc);
  store.abandonInFlight();
  const g = generationConfigSchema.parse({ method: 'evol', seed: 1, evol: { rounds: 2, operators: 'deepen' } });
  const m = buildMethod(store, g);
  assert.ok(m instanceof EvolMethod);
  const first = m.start();
  assert.ok(first && first.state.stage === 'respond', 'the answered evolution goes on to its response');
  assert.equal(first.state.parent.id, a!.id);
  assert.equal(first.request.kind === 'chat' && first.request.messages[0]!.content, 'Name a river longer than 1,000 km and say which seas it crosses.');
  const rest = [m.start(), m.start()].map((s) => s?.state.stage === 'evolve' && s.state.parent.id);
  assert.deepEqual(rest.sort(), [c!.id, d!.id].sort(), 'only the parents with nothing under way are evolved');
  assert.equal(m.start(), null, 'round 1 waits for the queued step and the steps out');
  store.close();
});
