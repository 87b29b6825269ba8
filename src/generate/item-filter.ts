import { curationVerdict, type CurationVerdict, type VerdictSettings } from '../curate/curation-verdict.js';
import type { DuplicateIndex } from '../curate/duplicate-index.js';
import type { ParsedTask } from './parse-response.js';

/**
 * Online curation of arriving items: the run's duplicate index (seeds, then kept items) and the one curation
 * verdict that curate also uses, so an item is judged the same whether it is curated now or re-curated later.
 */
export class ItemFilter {
  constructor(
    private readonly settings: VerdictSettings,
    private readonly index: DuplicateIndex,
  ) {}

  seed(id: string, instruction: string, input: string): void {
    this.index.add(id, instruction, input);
  }

  check(id: number, task: ParsedTask): CurationVerdict {
    return curationVerdict({ key: String(id), ...task }, this.index, this.settings);
  }
}
