import type { ChatMessage } from '../llm/chat-client.js';
import type { FromIngest, ToIngest } from './ingest-protocol.js';
import type { RequestResult } from '../store/run-store.js';
import type { GenerationMethod } from './generation-method.js';
import type { TemplateFormat } from './prompt-template.js';
import type { MethodItem } from './methods/method.js';

/** One request of a job as its method states it; the drivers add the id, the sampling settings and the seed. */
export interface JobRequest {
  messages: ChatMessage[];
  /** A raw prompt for /v1/completions (Magpie's pre-query) instead of the messages. Defaults to none: chat. */
  completion?: { prompt: string; stop: string[] };
  /** Completion tokens. Defaults to the run's maxTokens. */
  maxTokens?: number;
  /** The model that answers it. Defaults to the run's (Magpie's --response-model answers on the same endpoints). */
  model?: string;
  /** Recorded with the request (requests.examples_json); a batch answered in another process revives its job from it. */
  provenance: unknown;
}

/**
 * How the writer thread commits an answer: parsed there (self-instruct's task lists, parsed off the sending thread),
 * or as the items the method already read from it (evol, magpie), each with its provenance and own drop.
 */
export type AnswerCommit = { format: TemplateFormat; nextIndex: number } | { items: MethodItem[] };

export type Completed = Extract<FromIngest, { type: 'completed' }>;

/**
 * What the generation drivers (online through the request loop, batch rounds) ask of a method: jobs, each one or
 * more requests in a row (an evolution, then its response), and how each answer is committed. Budget, ids, retries,
 * curation, stop reasons and progress are the drivers'.
 */
export interface GenerationJobs<J> {
  readonly name: string;
  /** Items one job yields at most: the yield assumed before any answer is curated. */
  readonly itemsPerJob: number;
  /** A new job and its first request, given the run's kept count; null when none can start now. */
  start(kept: number): { job: J; request: JobRequest } | null;
  /** True once no job will start again (evol's rounds are done): a run short of its target then ends 'exhausted'. */
  readonly exhausted: boolean;
  /** The job of a request recorded with this provenance, for an answer ingested after a restart (batch rounds). */
  revive(provenance: unknown): J;
  /**
   * What an answer commits, and the job's next request (null: the job ends with this answer). With `then`, a
   * `precheck` item goes to the writer's dedup first (ToIngest 'precheck-item'): a duplicate ends the job there.
   */
  answer(job: J, answer: { text: string; finishReason: string | null }): { commit: AnswerCommit; then: JobRequest | null; precheck?: MethodItem };
  /** The job's last answer is committed: its items' verdicts and a few kept samples. */
  committed(job: J, done: Completed): void;
  /** The job's request ended without an answer (failed for good, or cut off by a stop): its work may start again. */
  failed(job: J): void;
}

/** The writer's message for an answer: its commit, or the item to check first when the job goes on. */
export function commitMessage(requestId: number, result: RequestResult, commit: AnswerCommit, precheck: MethodItem | undefined): Extract<ToIngest, { type: 'complete' | 'complete-items' | 'precheck-item' }> {
  if (precheck) return { type: 'precheck-item', requestId, result, item: precheck };
  return 'items' in commit ? { type: 'complete-items', requestId, result, items: commit.items } : { type: 'complete', requestId, result, ...commit };
}

/** Self-instruct's jobs: one request each, its answer parsed and curated by the writer. */
export function selfInstructJobs(method: GenerationMethod): GenerationJobs<{ provenance: unknown }> {
  return {
    name: method.name,
    itemsPerJob: method.itemsPerRequest,
    exhausted: false,
    start(kept) {
      const r = method.build(kept);
      return { job: { provenance: r.provenance }, request: { messages: r.messages, provenance: r.provenance } };
    },
    revive: (provenance) => ({ provenance }),
    answer: (job) => ({ commit: method.reading(job.provenance), then: null }),
    committed: (_job, done) => method.learn(done.keptSamples),
    failed() {},
  };
}
