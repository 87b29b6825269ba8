import { curationVerdict, duplicateVerdict, type CurationVerdict, type VerdictSettings } from '../curate/curation-verdict.js';
import type { CombinedDuplicateIndex } from '../curate/create-duplicate-index.js';
import type { ParsedTask } from './parse-response.js';

/**
 * Online curation of arriving items: the run's duplicate index (seeds, then kept items) and the one curation
 * verdict that curate also uses, so an item is judged the same whether it is curated now or re-curated later.
 */
export class ItemFilter {
  constructor(
    private readonly settings: VerdictSettings,
    private readonly index: CombinedDuplicateIndex,
  ) {}

  seed(id: string, instruction: string, input: string): void {
    this.index.add(id, instruction, input);
  }

  check(id: number, task: ParsedTask): CurationVerdict {
    return curationVerdict({ key: String(id), ...task }, this.index, this.settings);
  }

  /**
   * The duplicate verdict the item's instruction and input already earn, whatever its output will be; null when
   * they are new now (the item is then checked in full, rules first, once it is answered). Adds nothing.
   */
  duplicateVerdict(task: Pick<ParsedTask, 'instruction' | 'input'>): CurationVerdict | null {
    const d = this.index.check(task.instruction, task.input);
    return d.duplicateOf ? duplicateVerdict(d, 'found before its response was asked') : null;
  }
}
