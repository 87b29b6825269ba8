import type { Sample } from '../../data/sample.js';
import { parseEvolvedTask } from './evolved-task.js';
import { calledEqual, eliminateResponse, eliminateTask, type EliminationSettings } from './evol-elimination.js';
import { pickOperator, renderEqualPrompt, renderEvolPrompt, taskText, type EvolOperator, type EvolTemplate } from './evol-operators.js';
import type { GenerationMethod, Ingested, MethodAnswer, MethodItem, Step } from './method.js';

/** An item that can be evolved: a root (round 0) or an evolution kept in an earlier round. */
export interface EvolParent extends Pick<Sample, 'instruction' | 'input'> {
  id: number;
  rootId: number;
  round: number;
}

export type EvolState =
  | { stage: 'evolve'; parent: EvolParent; operator: EvolOperator; round: number }
  /** The model's equality check of the evolution against its parent (sameAsParentCheck: model). */
  | { stage: 'compare'; parent: EvolParent; operator: EvolOperator; round: number; task: Pick<Sample, 'instruction' | 'input'> }
  | { stage: 'respond'; parent: EvolParent; operator: EvolOperator; round: number; task: Pick<Sample, 'instruction' | 'input'> };

export interface EvolMethodOptions {
  /** The round being made now (1-based) and the parents of it not yet evolved. */
  round: number;
  pending: EvolParent[];
  /** Items already kept in `round` (a resumed run): the next round's parents. */
  keptThisRound: EvolParent[];
  rounds: number;
  operators: readonly EvolOperator[];
  templates: ReadonlyMap<EvolOperator, EvolTemplate>;
  elimination: EliminationSettings;
  random: () => number;
  /** Completion tokens of an evolution (the task alone is short). Defaults to the run's maxTokens. */
  evolveMaxTokens?: number;
  /** Evolutions of `round` answered before a restart but not yet responded to: their response steps go first. */
  resumedSteps?: Array<Step<EvolState>>;
  /** Steps of `round` queued in a batch whose answers are still to be ingested (each ends in committed or failed). */
  outstanding?: number;
  /**
   * The equality-check prompt (prompts/evol-equal.*): a depth evolution that passes ROUGE-L is also shown to the
   * model with its parent, and dropped as no new information if it calls them equal. Defaults to none.
   */
  equalTemplate?: string | null;
}

/**
 * Evol-Instruct (WizardLM) as a method: each round rewrites every item kept in the round before with one operator,
 * eliminates what the paper eliminates, then asks for the evolved task's response. A round starts only when the
 * one before has finished, since its kept items are the next round's parents.
 */
export class EvolMethod implements GenerationMethod<EvolState> {
  readonly name = 'evol' as const;
  private round: number;
  private queue: EvolParent[];
  private next: EvolParent[];
  private outstanding: number;
  private done = false;
  private readonly resumed: Array<Step<EvolState>>;

  constructor(private readonly o: EvolMethodOptions) {
    this.round = o.round;
    this.outstanding = o.outstanding ?? 0;
    this.resumed = [...(o.resumedSteps ?? [])].reverse();
    // Oldest first, so a resumed run takes its parents in the same order.
    this.queue = [...o.pending].reverse();
    this.next = [...o.keptThisRound];
  }

  get exhausted(): boolean {
    return this.done;
  }

  /** The round in progress (for progress lines). */
  get currentRound(): number {
    return this.round;
  }

  start(): Step<EvolState> | null {
    if (this.done) return null;
    const resumed = this.resumed.pop();
    if (resumed) {
      this.outstanding++;
      return resumed;
    }
    if (this.queue.length === 0) {
      if (this.outstanding > 0) return null;
      if (this.round >= this.o.rounds || this.next.length === 0) {
        this.done = true;
        return null;
      }
      this.round++;
      this.queue = this.next.reverse();
      this.next = [];
    }
    const parent = this.queue.pop()!;
    const operator = pickOperator(this.o.operators, this.o.random);
    const template = this.o.templates.get(operator)!;
    this.outstanding++;
    return {
      request: { kind: 'chat', messages: [{ role: 'user', content: renderEvolPrompt(template, parent) }], ...(this.o.evolveMaxTokens ? { maxTokens: this.o.evolveMaxTokens } : {}) },
      state: { stage: 'evolve', parent, operator, round: this.round },
    };
  }

  ingest(step: Pick<Step<EvolState>, 'state'>, answer: MethodAnswer): Ingested<EvolState> {
    const s = step.state;
    const provenance = { method: 'evol' as const, parentId: s.parent.id, rootId: s.parent.rootId, operator: s.operator, round: s.round };
    if (s.stage === 'evolve') {
      const parsed = parseEvolvedTask(answer.text, answer.finishReason);
      if (!parsed.ok) return { item: { instruction: '', input: '', output: answer.text, provenance, drop: { reason: 'evol:parse', detail: parsed.error } } };
      const template = this.o.templates.get(s.operator)!;
      const drop = eliminateTask(s.parent, parsed.task, template.body, this.o.elimination, s.operator === 'breadth');
      if (drop) return { item: { ...parsed.task, output: '', provenance, drop } };
      // An evolution that near-repeats a kept item would be removed by the run's dedup once answered: the writer
      // checks it first, so a duplicate costs neither the equality check nor the response.
      const precheck = { ...parsed.task, output: '', provenance, drop: null };
      if (this.o.equalTemplate && s.operator !== 'breadth') {
        // A short answer: a word or two (room for a model that puts a label in front).
        return { then: { request: { kind: 'chat', messages: [{ role: 'user', content: renderEqualPrompt(this.o.equalTemplate, s.parent, parsed.task) }], maxTokens: 16 }, state: { ...s, stage: 'compare', task: parsed.task } }, precheck };
      }
      return { then: this.respond(s, parsed.task), precheck };
    }
    if (s.stage === 'compare') {
      if (calledEqual(answer.text)) return { item: { ...s.task, output: '', provenance, drop: { reason: 'evol:no-new-information', detail: `the model called it equal to its parent ("${answer.text.trim().slice(0, 40)}")` } } };
      return { then: this.respond(s, s.task) };
    }
    const output = answer.text.trim();
    const drop =
      answer.finishReason === 'length'
        ? { reason: 'evol:short-response', detail: 'the response was cut off at max_tokens' }
        : eliminateResponse(output, this.o.elimination);
    return { item: { ...s.task, output, provenance, drop } };
  }

  private respond(s: Omit<Extract<EvolState, { stage: 'evolve' }>, 'stage'>, task: Pick<Sample, 'instruction' | 'input'>): Step<EvolState> {
    return { request: { kind: 'chat', messages: [{ role: 'user', content: taskText(task) }] }, state: { parent: s.parent, operator: s.operator, round: s.round, stage: 'respond', task } };
  }

  committed(item: MethodItem, id: number, kept: boolean): void {
    this.outstanding--;
    // Only what this round kept is evolved again; a late answer of an earlier round (none: rounds do not overlap) is not.
    if (kept && item.provenance.round === this.round) {
      this.next.push({ id, rootId: item.provenance.rootId ?? id, round: this.round, instruction: item.instruction, input: item.input });
    }
  }

  /** A piece of work ended with no answer (the request failed for good, or the run was interrupted): its parent waits again. */
  failed(state: EvolState): void {
    this.outstanding--;
    if (state.round === this.round) this.queue.push(state.parent);
  }
}
