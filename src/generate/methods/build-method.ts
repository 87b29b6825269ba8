import type { GenerationConfig } from '../../config/generation.js';
import { ConfigError } from '../../errors.js';
import { readAlpacaFile } from '../../data/alpaca-file.js';
import { seededRandom } from '../../random.js';
import type { RunStore } from '../../store/run-store.js';
import { ProvenanceStore } from '../../store/provenance-store.js';
import { EvolMethod } from './evol-method.js';
import { loadEvolTemplates, parseOperators } from './evol-operators.js';
import { defaultEliminationSettings } from './evol-elimination.js';
import { loadMagpieTemplate, magpiePrefix } from './magpie-template.js';
import { MagpieMethod } from './magpie-method.js';

/** Checks a method's settings (templates, operators, input file) before the run directory is made. */
export function checkMethodSettings(g: GenerationConfig): void {
  if (g.method === 'evol') {
    loadEvolTemplates(parseOperators(g.evol.operators), g.lang);
    if (g.evol.from !== null) readAlpacaFile(g.evol.from);
  } else if (g.method === 'magpie') {
    magpiePrefix(loadMagpieTemplate(g.magpie.template), g.lang);
  }
}

/**
 * The method of a run, rebuilt from what the store holds, so a resumed run goes on where it stopped: evol takes up
 * the first round whose parents are not all evolved; Magpie needs nothing but the kept count.
 */
export function buildMethod(store: RunStore, g: GenerationConfig): EvolMethod | MagpieMethod {
  if (g.method === 'magpie') {
    return new MagpieMethod({
      template: loadMagpieTemplate(g.magpie.template),
      lang: g.lang,
      filters: { minChars: g.magpie.minChars, maxChars: g.magpie.maxChars },
      instructionMaxTokens: g.magpie.instructionMaxTokens,
    });
  }
  const operators = parseOperators(g.evol.operators);
  const prov = new ProvenanceStore(store);
  if (g.evol.from !== null && !prov.hasSources()) prov.importSources(readAlpacaFile(g.evol.from));
  if (prov.keptOfRound(0).length === 0) {
    throw new ConfigError(['generate --method evol: nothing to evolve (the run holds no kept items)'], 'pass --from FILE with Alpaca JSON/JSONL items, or run self-instruct first and use --from-run');
  }
  // The first round (up to the last) that still has unevolved parents.
  let round = Math.max(1, prov.lastEvolRound());
  let pending = prov.keptOfRound(round - 1);
  for (;;) {
    const done = prov.evolvedParents(round);
    pending = prov.keptOfRound(round - 1).filter((p) => !done.has(p.id));
    if (pending.length > 0 || round >= g.evol.rounds) break;
    round++;
  }
  return new EvolMethod({
    round,
    pending,
    keptThisRound: prov.keptOfRound(round),
    rounds: g.evol.rounds,
    operators,
    templates: loadEvolTemplates(operators, g.lang),
    elimination: { ...defaultEliminationSettings, sameAsParentRougeL: g.evol.sameAsParentRougeL, minResponseChars: g.evol.minResponseChars },
    random: g.seed === null ? Math.random : seededRandom(g.seed * 7919 + store.nextRequestId()),
  });
}
