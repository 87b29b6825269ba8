import type { DuplicateIndex } from '../curate/duplicate-index.js';
import type { CurationFields } from '../store/run-store.js';
import type { ParsedTask } from './parse-response.js';

export type ItemVerdict = Required<CurationFields>;

export type RuleCheck = (task: ParsedTask) => { rule: string; reason: string } | null;

/**
 * Online curation of arriving items: rules first (cheap, and a rejected item must not enter the duplicate
 * index), then the duplicate index, which adds the item when it is new.
 */
export class ItemFilter {
  constructor(
    private readonly rules: RuleCheck,
    private readonly index: DuplicateIndex,
  ) {}

  seed(id: string, instruction: string, input: string): void {
    this.index.add(id, instruction, input);
  }

  check(id: number, task: ParsedTask): ItemVerdict {
    const broken = this.rules(task);
    if (broken) return { status: 'rejected', reason: `rule:${broken.rule}`, detail: broken.reason, duplicateOf: null, similarity: null, similar: [] };
    const d = this.index.checkAndAdd(String(id), task.instruction, task.input);
    if (d.duplicateOf) {
      return { status: 'duplicate', reason: `duplicate:${d.kind ?? 'exact'}`, detail: null, duplicateOf: d.duplicateOf.id, similarity: d.duplicateOf.score, similar: d.similar };
    }
    return { status: 'kept', reason: null, detail: null, duplicateOf: null, similarity: null, similar: d.similar };
  }
}
