import { ExactDuplicateIndex } from '../curate/duplicate-index.js';
import type { ForgeConfig } from '../config/schema.js';
import { ItemFilter } from './item-filter.js';

/** The filter `generate` applies to every arriving item, built from the run's curation settings. */
export function buildOnlineFilter(_config: ForgeConfig, _lang: 'en' | 'zh'): ItemFilter {
  return new ItemFilter(() => null, new ExactDuplicateIndex());
}
