import { parentPort, workerData } from 'node:worker_threads';
import { RunStore, type NewItem } from '../store/run-store.js';
import { buildOnlineFilter } from './online-curation.js';
import { overTargetVerdict } from '../curate/curation-verdict.js';
import { SAMPLE_BACK, type FromIngest, type IngestInit, type ToIngest } from './ingest-protocol.js';
import { parseResponse } from './parse-response.js';
import type { SamplePreview } from '../events.js';
import { serializeError } from '../errors.js';
import { ProvenanceStore } from '../store/provenance-store.js';
import { RejectedStorage } from './rejected-storage.js';

// The only writer of the run while `generate` runs. Messages are handled strictly in the order they were sent, so
// items are judged in arrival order, exactly as a single-threaded loop would judge them, and each response is
// committed with its items in one transaction.
const port = parentPort!;
const post = (m: FromIngest) => port.postMessage(m);
const fail = (e: unknown) => post({ type: 'error', error: serializeError(e) });

try {
  const init = workerData as IngestInit;
  const store = RunStore.open(init.runDir);
  const filter = buildOnlineFilter(init.config, init.lang);
  for (const s of init.seeds) filter.seed(s.id, s.instruction, s.input);
  const keptRows = store.keptTexts();
  for (const k of keptRows) filter.seed(String(k.id), k.instruction, k.input);
  let kept = keptRows.length;
  const provenance = new ProvenanceStore(store);
  const storage = new RejectedStorage(init.config.generation.storeRejected, store.storedByReason());
  const commitWithProvenance = store.connection.transaction((m: Extract<ToIngest, { type: 'complete-items' }>, items: NewItem[]) => {
    // Evol's drops stay stored whatever storeRejected says: a resumed run reads which parents a round has already
    // evolved from them (ProvenanceStore.evolvedParents), and an evolution makes one item per answer anyway.
    const { stored, unstored } = m.items.some((it) => it.provenance.parentId !== null) ? { stored: items, unstored: [] } : storage.split(items);
    store.completeRequest(m.requestId, m.result, stored, unstored);
    // An item's idx is its place in the answer, and so in m.items.
    provenance.record(stored.map((it) => ({ itemId: it.id, ...m.items[it.idx]!.provenance })));
  });

  const handle = (m: ToIngest): void => {
    if (m.type === 'begin') {
      store.beginRequest(m.provenance, 'generate', m.requestId, m.target);
    } else if (m.type === 'fail') {
      if (m.abandoned) store.abandonRequest(m.requestId, m.error);
      else store.failRequest(m.requestId, m.error);
    } else if (m.type === 'endpoint') {
      store.setRequestEndpoint(m.requestId, m.endpoint, m.model);
    } else if (m.type === 'meta') {
      store.setMeta(m.key, m.value);
    } else if (m.type === 'flush') {
      post({ type: 'flushed' });
    } else if (m.type === 'precheck-item') {
      const verdict = kept < init.target ? filter.duplicateVerdict(m.item) : null;
      if (!verdict) {
        store.completeRequest(m.requestId, m.result, [], []);
        post({ type: 'completed', requestId: m.requestId, kept, tasks: 0, ...new AnswerTally().summary(), verdicts: [], settled: false });
        return;
      }
      const id = store.allocateItemId();
      const { instruction, input, output } = m.item;
      const tally = new AnswerTally();
      tally.count(id, m.item, verdict);
      commitWithProvenance({ type: 'complete-items', requestId: m.requestId, result: m.result, items: [m.item] }, [{ id, idx: 0, instruction, input, output, ...verdict }]);
      post({ type: 'completed', requestId: m.requestId, kept, tasks: 1, ...tally.summary(), verdicts: [{ id, kept: false }], settled: true });
    } else if (m.type === 'complete-items') {
      const items: NewItem[] = [];
      const tally = new AnswerTally();
      const verdicts: Array<{ id: number; kept: boolean }> = [];
      m.items.forEach((it, idx) => {
        const id = store.allocateItemId();
        const task = { instruction: it.instruction, input: it.input, output: it.output };
        const verdict = it.drop
          ? { status: 'dropped' as const, reason: it.drop.reason, detail: it.drop.detail, duplicateOf: null, similarity: null, similar: [] }
          : kept >= init.target
            ? overTargetVerdict(init.target)
            : filter.check(id, task);
        if (tally.count(id, task, verdict)) kept++;
        verdicts.push({ id, kept: verdict.status === 'kept' });
        items.push({ id, idx, ...task, ...verdict });
      });
      commitWithProvenance(m, items);
      post({ type: 'completed', requestId: m.requestId, kept, tasks: m.items.length, ...tally.summary(), verdicts });
    } else {
      const items: NewItem[] = [];
      const tally = new AnswerTally();
      const parsed = parseResponse(m.result.raw, m.format, { finishReason: m.result.finishReason, nextIndex: m.nextIndex });
      let idx = 0;
      for (const task of parsed.tasks) {
        const id = store.allocateItemId();
        // Past the target an item is not kept even if new: the run holds exactly `target`.
        const verdict = kept >= init.target ? overTargetVerdict(init.target) : filter.check(id, task);
        if (tally.count(id, task, verdict)) kept++;
        items.push({ id, idx: idx++, ...task, ...verdict });
      }
      for (const d of parsed.dropped) {
        const reason = `parse:${d.reason.replace(/\s*\(.*$/, '')}`;
        const item = { id: store.allocateItemId(), idx: idx++, instruction: '', input: '', output: d.raw, status: 'dropped' as const, reason, detail: d.reason, duplicateOf: null, similarity: null, similar: [] };
        tally.count(item.id, item, item);
        items.push(item);
      }
      const { stored, unstored } = storage.split(items);
      store.completeRequest(m.requestId, m.result, stored, unstored);
      post({ type: 'completed', requestId: m.requestId, kept, tasks: parsed.tasks.length, ...tally.summary() });
    }
  };
  port.on('message', (m: ToIngest) => {
    try {
      handle(m);
    } catch (e) {
      fail(e);
    }
  });
  port.once('close', () => store.close());
  post({ type: 'ready', kept });
  warmUp(init);
} catch (e) {
  fail(e);
}

/** What one answer's items did: how many were kept, the last few kept (for the example pool and the display), and
 *  the rest by reason. */
class AnswerTally {
  private keptNow = 0;
  private readonly keptSamples: SamplePreview[] = [];
  private readonly rejections: Record<string, number> = {};

  /** Counts one item's verdict; true when it was kept. */
  count(id: number, task: { instruction: string; input: string; output: string }, verdict: { status: string; reason: string | null }): boolean {
    if (verdict.status === 'kept') {
      this.keptNow++;
      // The last few kept: a random-enough share of the run for the example pool, and the freshest for display.
      if (this.keptSamples.length === SAMPLE_BACK) this.keptSamples.shift();
      this.keptSamples.push({ id, instruction: task.instruction, input: task.input, output: task.output });
      return true;
    }
    if (verdict.reason) this.rejections[verdict.reason] = (this.rejections[verdict.reason] ?? 0) + 1;
    return false;
  }

  summary(): { keptNow: number; keptSamples: SamplePreview[]; rejections: Record<string, number> } {
    return { keptNow: this.keptNow, keptSamples: this.keptSamples, rejections: this.rejections };
  }
}

/**
 * Curates a few made-up variants of the seeds on a throwaway filter while the first requests are out. The first
 * answers otherwise meet cold code (a first answer took ~95 ms against ~3 ms warm): a whole first round came in
 * before any of it was curated, and the scheduler had to decide the next round on no yield at all.
 */
function warmUp(init: IngestInit): void {
  const filter = buildOnlineFilter(init.config, init.lang);
  const seeds = init.seeds.slice(0, 40);
  for (const s of seeds.slice(0, 20)) filter.seed(s.id, s.instruction, s.input);
  const tasks = seeds.map((s) => ({ instruction: `${s.instruction} Answer briefly.`, input: s.input, output: 'A short answer to the task, in one sentence.' }));
  const parsed = parseResponse(JSON.stringify(tasks), 'json');
  parsed.tasks.forEach((t, i) => filter.check(-1 - i, t));
}
