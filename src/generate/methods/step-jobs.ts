import { z } from 'zod';
import { StoreError } from '../../errors.js';
import type { GenerationJobs, JobRequest } from '../generation-jobs.js';
import type { GenerationMethod, MethodItem, Step } from './method.js';

/** A piece of work of a step method: the step whose request is out now, and the item its last answer made. */
export interface StepJob {
  step: Pick<Step<unknown>, 'state'>;
  item: MethodItem | null;
}

/** What a step's request records (requests.examples_json): enough to read its answer in another process. */
const stepProvenanceSchema = z.object({ method: z.string(), request: z.enum(['chat', 'completion']), state: z.unknown() });

export interface StepJobsOptions {
  /** The model that answers the chat steps, when not the run's (Magpie's --response-model). Defaults to the run's. */
  chatModel?: string | null;
}

/**
 * Evol-Instruct and Magpie on the drivers' seam: a piece of work is a job, its steps the job's requests one after
 * the other, and its item is committed with the answer of its last step (a first step's answer is committed with
 * no item, so a kill between the two loses nothing that was paid for: see buildMethod).
 */
export function stepJobs(method: GenerationMethod<unknown>, o: StepJobsOptions = {}): GenerationJobs<StepJob> {
  const request = (step: Step<unknown>): JobRequest => {
    const r = step.request;
    const provenance = { method: method.name, request: r.kind, state: step.state };
    if (r.kind === 'completion') return { messages: [], completion: { prompt: r.prompt, stop: r.stop }, ...(r.maxTokens ? { maxTokens: r.maxTokens } : {}), provenance };
    return { messages: r.messages, ...(r.maxTokens ? { maxTokens: r.maxTokens } : {}), ...(o.chatModel ? { model: o.chatModel } : {}), provenance };
  };
  return {
    name: method.name,
    itemsPerJob: 1,
    get exhausted() {
      return method.exhausted;
    },
    start() {
      const step = method.start();
      return step ? { job: { step, item: null }, request: request(step) } : null;
    },
    revive(provenance) {
      const p = stepProvenanceSchema.safeParse(provenance);
      if (!p.success || p.data.method !== method.name) throw new StoreError(`run.db: a queued request was not recorded by --method ${method.name} (${JSON.stringify(provenance).slice(0, 80)})`, `ingest it with the method that wrote it (${p.success ? p.data.method : 'self-instruct'})`);
      return { step: { state: p.data.state }, item: null };
    },
    answer(job, a) {
      const out = method.ingest(job.step, a);
      if ('then' in out) {
        job.step = out.then;
        // A precheck that finds a duplicate ends the job with this item: `committed` reports it to the method.
        job.item = out.precheck ?? null;
        return { commit: { items: [] }, then: request(out.then), ...(out.precheck ? { precheck: out.precheck } : {}) };
      }
      job.item = out.item;
      return { commit: { items: [out.item] }, then: null };
    },
    committed(job, done) {
      const v = done.verdicts?.[0];
      if (v && job.item) method.committed(job.item, v.id, v.kept);
    },
    failed(job) {
      method.failed?.(job.step.state);
    },
  };
}
