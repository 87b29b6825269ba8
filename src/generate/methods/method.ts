import { z } from 'zod';
import type { ChatMessage } from '../../llm/chat-client.js';
import type { Sample } from '../../data/sample.js';

export const generationMethods = ['self-instruct', 'evol', 'magpie'] as const;
export const generationMethodSchema = z.enum(generationMethods);
export type GenerationMethodName = z.infer<typeof generationMethodSchema>;

/**
 * Where an item came from. Evol-Instruct: its parent, the root of its tree (an item of the input), the operator
 * that made it and its round (the root is round 0). Magpie: the chat template as operator, no parent.
 */
export const provenanceSchema = z.object({
  method: z.union([generationMethodSchema, z.literal('source')]),
  parentId: z.number().int().nullable(),
  rootId: z.number().int().nullable(),
  operator: z.string().nullable(),
  round: z.number().int().nullable(),
});
export type Provenance = z.infer<typeof provenanceSchema>;

/** One request a method wants sent: a chat request, or a raw prompt for /v1/completions. */
export type MethodRequest = { kind: 'chat'; messages: ChatMessage[]; maxTokens?: number } | { kind: 'completion'; prompt: string; stop: string[]; maxTokens?: number };

export interface MethodAnswer {
  text: string;
  finishReason: string | null;
}

/** An item a method has finished with: kept for curation, or dropped by the method's own checks (with why). */
export interface MethodItem extends Sample {
  provenance: Provenance;
  drop: { reason: string; detail: string } | null;
}

export interface Step<S> {
  request: MethodRequest;
  state: S;
}

/**
 * What one answer leads to: another request for the same piece of work, or its item. With `then`, `precheck` is
 * the item the work will make (its output still to come): when the run's dedup already holds its instruction, the
 * item is committed as that duplicate and `then` is never paid for.
 */
export type Ingested<S> = { then: Step<S>; precheck?: MethodItem } | { item: MethodItem };

/**
 * A generation method on the shape of distilabel's Task: it builds one request and ingests one answer; the loop
 * that drives it (the request loop online, batch rounds offline, both through stepJobs) owns concurrency, the
 * budget, retries, the store and curation. A piece of work may take several requests (an evolution, then its
 * response), chained through `then`.
 */
export interface GenerationMethod<S> {
  readonly name: GenerationMethodName;
  /** A new piece of work, or null when none can start now (the round's parents are all out, or there are no more). */
  start(): Step<S> | null;
  /** Reads one answer to the step's request; only the step's state is needed (a batch revives it from the store). */
  ingest(step: Pick<Step<S>, 'state'>, answer: MethodAnswer): Ingested<S>;
  /** The item of a piece of work was committed with this id and curation status. */
  committed(item: MethodItem, id: number, kept: boolean): void;
  /** A step's request ended without an answer: its piece of work may start again. */
  failed?(state: S): void;
  /** True when the method will never start more work (all rounds done). */
  readonly exhausted: boolean;
}
