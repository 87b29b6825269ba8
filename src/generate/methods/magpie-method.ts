import type { Lang } from '../../data/sample.js';
import { cutAtEndOfTurn, magpiePrefix, magpieStops, type MagpieTemplate } from './magpie-template.js';
import { magpieFilter, type MagpieFilterSettings } from './magpie-filters.js';
import type { GenerationMethod, Ingested, MethodAnswer, MethodItem, Step } from './method.js';

export type MagpieState = { stage: 'instruction' } | { stage: 'response'; instruction: string };

export interface MagpieMethodOptions {
  template: MagpieTemplate;
  lang: Lang;
  filters: MagpieFilterSettings;
  /** Completion tokens for an instruction. Defaults to 512. */
  instructionMaxTokens?: number;
  /** Instructions answered before a restart whose response was never asked: their response steps go first. */
  resumedSteps?: Array<Step<MagpieState>>;
  /** Instructions the run has already asked a response for (a resumed run's): not asked again. Defaults to none. */
  askedBefore?: Iterable<string>;
}

/**
 * A 53-bit key of an instruction (two FNV-1a hashes of its lowercased, space-collapsed text): a million instructions
 * cost megabytes, not their text, and a false match is about one in a billion pairs.
 */
export function instructionKey(instruction: string): number {
  const t = instruction.toLowerCase().replace(/\s+/g, ' ').trim();
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return a * 2 ** 21 + (b >>> 11);
}

/**
 * Magpie (Xu et al., 2024): the chat template's pre-query alone goes to /v1/completions, and the aligned model writes
 * a user's instruction by itself; the instruction, cut at the template's end of turn and filtered, is then answered
 * through a chat request. No seeds and no prompt: there is always more work to start.
 */
export class MagpieMethod implements GenerationMethod<MagpieState> {
  readonly name = 'magpie' as const;
  readonly exhausted = false;
  private readonly prefix: string;
  private readonly resumed: Array<Step<MagpieState>>;
  private readonly asked = new Set<number>();

  constructor(private readonly o: MagpieMethodOptions) {
    this.prefix = magpiePrefix(o.template, o.lang);
    this.resumed = [...(o.resumedSteps ?? [])].reverse();
    for (const i of o.askedBefore ?? []) this.asked.add(instructionKey(i));
    for (const r of this.resumed) if (r.state.stage === 'response') this.asked.add(instructionKey(r.state.instruction));
  }

  start(): Step<MagpieState> {
    const resumed = this.resumed.pop();
    if (resumed) return resumed;
    return { request: { kind: 'completion', prompt: this.prefix, stop: magpieStops(this.o.template), maxTokens: this.o.instructionMaxTokens ?? 512 }, state: { stage: 'instruction' } };
  }

  ingest(step: Pick<Step<MagpieState>, 'state'>, answer: MethodAnswer): Ingested<MagpieState> {
    const provenance = { method: 'magpie' as const, parentId: null, rootId: null, operator: this.o.template.name, round: null };
    const s = step.state;
    if (s.stage === 'instruction') {
      const instruction = cutAtEndOfTurn(answer.text, this.o.template);
      // An instruction cut off by max_tokens never reached its end of turn: too long by Magpie's measure.
      const drop =
        answer.finishReason === 'length' && instruction !== ''
          ? { reason: 'magpie:too-long', detail: 'the instruction did not end within max_tokens' }
          : magpieFilter(instruction, this.o.lang, this.o.filters);
      if (drop) return { item: { instruction, input: '', output: '', provenance, drop } };
      // A model whose variety runs out repeats itself: a repeat is dropped before its response is paid for (the run's
      // dedup would drop it after). Near-repeats are still the dedup's, on the answered item.
      const key = instructionKey(instruction);
      if (this.asked.has(key)) return { item: { instruction, input: '', output: '', provenance, drop: { reason: 'magpie:repeated-instruction', detail: 'the run already asked a response to this instruction' } } };
      this.asked.add(key);
      // A near-repeat of a kept instruction would be removed by the run's dedup once answered: checked first.
      return {
        then: { request: { kind: 'chat', messages: [{ role: 'user', content: instruction }] }, state: { stage: 'response', instruction } },
        precheck: { instruction, input: '', output: '', provenance, drop: null },
      };
    }
    const output = answer.text.trim();
    const drop = answer.finishReason === 'length' ? { reason: 'magpie:truncated-response', detail: 'the response was cut off at max_tokens' } : null;
    return { item: { instruction: s.instruction, input: '', output, provenance, drop } };
  }

  committed(_item: MethodItem, _id: number, _kept: boolean): void {}
}
