import type { ForgeConfig } from '../config/schema.js';
import { createDuplicateIndex } from '../curate/create-duplicate-index.js';
import { ItemFilter } from './item-filter.js';
import type { Lang } from '../data/sample.js';

/** The filter `generate` applies to every arriving item: the run's curation rules, then exact + ROUGE-L dedup. */
export function buildOnlineFilter(config: ForgeConfig, lang: Lang): ItemFilter {
  return new ItemFilter({ curation: config.curation, lang }, createDuplicateIndex(config.curation, lang));
}
