import type { ChatMessage } from '../llm/chat-client.js';
import type { GenerationStopReason, SamplePreview } from '../events.js';
import type { ExampleSampler } from './example-sampler.js';
import { renderPrompt, type PromptTemplate, type TemplateFormat } from './prompt-template.js';

/**
 * One generation request as a method builds it: the messages and what is recorded with it. The drivers (online through the request loop, batch rounds through the Batch API or a
 * file) own everything else: sampling settings, budget, ids, retries, curation, stop reasons.
 */
export interface GenerationRequest {
  messages: ChatMessage[];
  /** Recorded with the request (run.db's requests.examples): what the prompt showed, which method. */
  provenance: unknown;
}

/** How the run's writer reads one answer into tasks. */
export interface AnswerReading {
  format: TemplateFormat;
  /** The number the answer's tasks continue from (numbered-list templates). */
  nextIndex: number;
}

/**
 * A generation method (distilabel's Task): how to build one request from the run as it stands, how its answer is
 * read (from what the request recorded, so a batch answered days later reads the same), and what it learns from the
 * kept samples of an ingested answer. Self-instruct is one; Evol-Instruct and Magpie are others on the same seam.
 */
export interface GenerationMethod {
  readonly name: string;
  /** Items one request asks for: the yield assumed before any answer is curated. */
  readonly itemsPerRequest: number;
  /** The next request, given the run's kept samples now. */
  build(kept: number): GenerationRequest;
  /** How the answer to a request with this provenance is read (the writer parses and curates it). */
  reading(provenance: unknown): AnswerReading;
  /** Kept samples of an ingested answer (a few of each: the writer sends back SAMPLE_BACK). */
  learn(kept: SamplePreview[]): void;
}

/** Self-Instruct as Alpaca runs it: a few example tasks (seeds, later some of the run's own) and a request for more. */
export function selfInstruct(template: PromptTemplate, sampler: ExampleSampler, numTasks: number): GenerationMethod {
  return {
    name: 'self-instruct',
    itemsPerRequest: numTasks,
    build(kept) {
      const { examples, refs } = sampler.sample(kept);
      return {
        messages: [{ role: 'user', content: renderPrompt(template, examples, numTasks) }],
        provenance: { examples: refs, template: template.name },
      };
    },
    reading(provenance) {
      const refs = (provenance as { examples?: unknown[] } | null)?.examples ?? [];
      return { format: template.format, nextIndex: refs.length + 1 };
    },
    learn(kept) {
      for (const item of kept) sampler.addKept(item.id, item);
    },
  };
}

/** How a generation driver (online or batch rounds) ended. */
export interface GenerationOutcome {
  reason: GenerationStopReason;
  kept: number;
  message: string;
}
