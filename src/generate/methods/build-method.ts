import type { GenerationConfig } from '../../config/generation.js';
import { ConfigError } from '../../errors.js';
import { readAlpacaFile } from '../../data/alpaca-file.js';
import { seededRandom } from '../../random.js';
import type { RunStore } from '../../store/run-store.js';
import { ProvenanceStore, type EvolvableItem } from '../../store/provenance-store.js';
import { z } from 'zod';
import { EvolMethod, type EvolState } from './evol-method.js';
import { evolOperators, loadEvolEqualTemplate, loadEvolTemplates, parseOperators } from './evol-operators.js';
import { defaultEliminationSettings, type EliminationSettings } from './evol-elimination.js';
import type { Step } from './method.js';
import { loadMagpieTemplate, magpiePrefix } from './magpie-template.js';
import { MagpieMethod, type MagpieState } from './magpie-method.js';

/** Checks a method's settings (templates, operators, input file) before the run directory is made. */
export function checkMethodSettings(g: GenerationConfig): void {
  if (g.method === 'evol') {
    loadEvolTemplates(parseOperators(g.evol.operators), g.lang);
    if (g.evol.sameAsParentCheck === 'model') loadEvolEqualTemplate(g.lang);
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
    const options = {
      template: loadMagpieTemplate(g.magpie.template),
      lang: g.lang,
      filters: { minChars: g.magpie.minChars, maxChars: g.magpie.maxChars },
      instructionMaxTokens: g.magpie.instructionMaxTokens,
    };
    const left = magpieLeft(new ProvenanceStore(store), new MagpieMethod(options));
    return new MagpieMethod({ ...options, resumedSteps: left.steps, askedBefore: left.asked });
  }
  const operators = parseOperators(g.evol.operators);
  const prov = new ProvenanceStore(store);
  if (g.evol.from !== null && !prov.hasSources()) prov.importSources(readAlpacaFile(g.evol.from));
  if (prov.keptOfRound(0).length === 0) {
    throw new ConfigError(['generate --method evol: nothing to evolve (the run holds no kept items)'], 'pass --from FILE with Alpaca JSON/JSONL items, or run self-instruct first and use --from-run');
  }
  const templates = loadEvolTemplates(operators, g.lang);
  const equalTemplate = g.evol.sameAsParentCheck === 'model' ? loadEvolEqualTemplate(g.lang) : null;
  const elimination = { ...defaultEliminationSettings, sameAsParentRougeL: g.evol.sameAsParentRougeL, minResponseChars: g.evol.minResponseChars };
  // The first round (up to the last) with work left: parents not yet evolved, or steps still out or half done.
  let round = 1;
  let left: RoundLeft;
  for (;;) {
    left = roundLeft(prov, round, templates, elimination, equalTemplate);
    if (left.pending.length > 0 || left.outstanding > 0 || left.resumedSteps.length > 0 || round >= g.evol.rounds || prov.keptOfRound(round).length === 0) break;
    round++;
  }
  return new EvolMethod({
    round,
    pending: left.pending,
    keptThisRound: prov.keptOfRound(round),
    rounds: g.evol.rounds,
    operators,
    templates,
    elimination,
    random: g.seed === null ? Math.random : seededRandom(g.seed * 7919 + store.nextRequestId()),
    resumedSteps: left.resumedSteps,
    outstanding: left.outstanding,
    equalTemplate,
  });
}

interface RoundLeft {
  pending: EvolvableItem[];
  resumedSteps: Array<Step<EvolState>>;
  outstanding: number;
}

const parentSchema = z.object({ id: z.number().int(), rootId: z.number().int(), round: z.number().int(), instruction: z.string(), input: z.string() });
const evolveStateSchema = z.object({ stage: z.literal('evolve'), parent: parentSchema, operator: z.enum(evolOperators), round: z.number().int() });
const stepStateSchema = z.object({ state: z.object({ parent: z.object({ id: z.number().int() }) }) });

/**
 * What is left of a round, from the store: its parents (kept in the round before) that have no evolution yet, the
 * steps still queued in a batch, and evolutions answered before a restart whose response was never asked (read
 * again from their stored answer, so a kill or a batch round between the two steps costs nothing twice).
 */
function roundLeft(prov: ProvenanceStore, round: number, templates: ReturnType<typeof loadEvolTemplates>, elimination: EliminationSettings, equalTemplate: string | null): RoundLeft {
  const done = prov.evolvedParents(round);
  const busy = new Set<number>();
  let outstanding = 0;
  const answered = new Map<number, Step<EvolState>['state'] & { stage: 'evolve' }>();
  const raw = new Map<number, { text: string; finishReason: string | null }>();
  for (const r of prov.stepRequests('evol', round)) {
    const parentId = stepStateSchema.safeParse(r.provenance).data?.state.parent.id;
    if (parentId === undefined || done.has(parentId)) continue;
    if (r.status === 'queued') {
      busy.add(parentId);
      outstanding++;
      continue;
    }
    const state = evolveStateSchema.safeParse((r.provenance as { state?: unknown }).state);
    // The latest answered evolution of a parent; a response asked later that failed leaves it to be asked again.
    if (r.status === 'ok' && state.success && r.raw !== null && templates.has(state.data.operator)) {
      answered.set(parentId, state.data);
      raw.set(parentId, { text: r.raw, finishReason: r.finishReason });
    }
  }
  // Reading an answer needs only the templates and the elimination settings, not the round's queue.
  const reader = new EvolMethod({ round, pending: [], keptThisRound: [], rounds: round, operators: [...templates.keys()], templates, elimination, random: Math.random, equalTemplate });
  const resumedSteps: Array<Step<EvolState>> = [];
  for (const [parentId, state] of answered) {
    if (busy.has(parentId)) continue;
    const out = reader.ingest({ state }, raw.get(parentId)!);
    if ('then' in out) {
      resumedSteps.push(out.then);
      busy.add(parentId);
    }
  }
  const pending = prov.keptOfRound(round - 1).filter((p) => !done.has(p.id) && !busy.has(p.id));
  return { pending, resumedSteps, outstanding };
}

const instructionStateSchema = z.object({ state: z.object({ stage: z.literal('instruction') }) });
const responseStateSchema = z.object({ state: z.object({ stage: z.literal('response'), instruction: z.string() }) });

/**
 * Magpie's instructions answered before a restart (or in a batch round ingested by another process) that never got
 * their response: read again from the stored answer, each once; an instruction whose response is queued or answered
 * is not asked again (and `asked` holds them all, so a repeat of one is dropped before its response).
 */
function magpieLeft(prov: ProvenanceStore, reader: MagpieMethod): { steps: Array<Step<MagpieState>>; asked: Set<string> } {
  const asked = new Set<string>();
  const answered: Array<{ raw: string; finishReason: string | null }> = [];
  for (const r of prov.stepRequests('magpie')) {
    const response = responseStateSchema.safeParse(r.provenance);
    if (response.success && (r.status === 'queued' || r.status === 'ok')) asked.add(response.data.state.instruction);
    else if (instructionStateSchema.safeParse(r.provenance).success && r.status === 'ok' && !r.hasItems && r.raw !== null) answered.push({ raw: r.raw, finishReason: r.finishReason });
  }
  const steps: Array<Step<MagpieState>> = [];
  for (const a of answered) {
    const out = reader.ingest({ state: { stage: 'instruction' } }, { text: a.raw, finishReason: a.finishReason });
    if (!('then' in out) || out.then.state.stage !== 'response' || asked.has(out.then.state.instruction)) continue;
    asked.add(out.then.state.instruction);
    steps.push(out.then);
  }
  return { steps, asked };
}
