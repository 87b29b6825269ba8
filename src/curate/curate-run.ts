import { existsSync } from 'node:fs';
import { DataError } from '../errors.js';
import { loadSeedTasks } from '../data/seed-tasks.js';
import type { CurationUpdate, RunStore, StoredItem } from '../store/run-store.js';
import type { CurationConfig } from '../config/curation.js';
import { countVerdicts, curateItems, type CurationVerdict } from './curate-items.js';
import { judgeItems, type JudgeOutcome, type JudgeRunOptions } from './judge.js';
import { langSchema, type Lang } from '../data/sample.js';
import type { ContaminationIndex } from './contamination-index.js';
import type { SimilarItem } from './duplicate-index.js';
import { semanticMap, type Embed } from './semantic-pass.js';

export interface RecurateResult {
  /** Items re-evaluated (every item that was parsed; 'dropped' ones are left alone). */
  total: number;
  /** Items whose status, reason, duplicate link or similar list changed. */
  changed: number;
  before: Record<string, number>;
  after: { total: number; byStatus: Record<string, number>; byReason: Record<string, number> };
  lang: Lang;
  seeds: number;
}

export interface RecurateOptions {
  /** Kept items the judge scored below this become rejected (reason 'judge'); null = scores are only recorded. */
  minJudgeScore?: number | null;
  /** Seed tasks file; default: the run's own (meta seeds_path), none if the run has none. */
  seedsPath?: string | null;
  /** Default: the run's language (meta lang). */
  lang?: Lang;
  /** Benchmark n-grams (curate --decontaminate). */
  contamination?: ContaminationIndex | null;
  /** Semantic duplicates found beforehand (semanticMapForRun), by item id. */
  semantic?: ReadonlyMap<string, SimilarItem> | null;
  onProgress?: (done: number, total: number) => void;
}

export function runLang(store: RunStore): Lang {
  return langSchema.catch('en').parse(store.getMeta('lang'));
}

/** The run's seed tasks as generation added them to the duplicate index: `seed:<id>` with the first instance's input. */
export function runSeeds(store: RunStore, override?: string | null): Array<{ id: string; instruction: string; input: string }> {
  const path = override ?? store.getMeta('seeds_path') ?? null;
  if (path === null) return [];
  if (!existsSync(path)) {
    throw new DataError(`${store.dir}: the run's seed tasks ${path} are missing`, 'pass --seeds FILE with the seed tasks the run was generated from');
  }
  return loadSeedTasks(path).map((s) => ({ id: s.id, instruction: s.instruction, input: s.instances[0]?.input ?? '' }));
}

/**
 * Re-curates a run with the current settings: every parsed item, in id (arrival) order, through the rules, the
 * duplicate index (seeded with the run's seeds) and the judge threshold, exactly as generation would have decided
 * with these settings. Only changed rows are written, in one transaction; nothing is deleted, and review decisions
 * and edits are never touched (RunStore.updateCuration does not write those columns). Edited items are judged by
 * their current (edited) text.
 */
export function recurateRun(store: RunStore, cfg: CurationConfig, opts: RecurateOptions = {}): RecurateResult {
  const lang = opts.lang ?? runLang(store);
  const seeds = runSeeds(store, opts.seedsPath);
  const items = store.listItems().filter((it) => it.status !== 'dropped');
  const before: Record<string, number> = {};
  for (const it of items) before[it.status] = (before[it.status] ?? 0) + 1;
  const verdicts = curateItems(
    items.map((it) => ({ key: String(it.id), instruction: it.instruction, input: it.input, output: it.output, judgeScore: it.judgeScore })),
    cfg,
    lang,
    { seeds, minJudgeScore: opts.minJudgeScore ?? null, contamination: opts.contamination ?? null, semantic: opts.semantic ?? null, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) },
  );
  const updates: CurationUpdate[] = [];
  items.forEach((it, i) => {
    const v = verdicts[i]!;
    if (!sameCuration(it, v)) updates.push({ id: it.id, status: v.status, reason: v.reason, detail: v.detail, duplicateOf: v.duplicateOf, similarity: v.similarity, similar: v.similar });
  });
  if (updates.length) store.updateCuration(updates);
  return { total: items.length, changed: updates.length, before, after: countVerdicts(verdicts), lang, seeds: seeds.length };
}

/**
 * Semantic duplicates of a run's items for recurateRun: the items that pass the rules (and decontamination) under
 * `cfg`, embedded (through the cache in run.db) and compared in the keep rule's order.
 */
export async function semanticMapForRun(store: RunStore, cfg: CurationConfig, opts: RecurateOptions, embed: Embed): Promise<Map<string, SimilarItem>> {
  const lang = opts.lang ?? runLang(store);
  const items = store.listItems().filter((it) => it.status !== 'dropped');
  const candidates = items.map((it) => ({ key: String(it.id), instruction: it.instruction, input: it.input, output: it.output, judgeScore: it.judgeScore }));
  const verdicts = curateItems(candidates, cfg, lang, { seeds: runSeeds(store, opts.seedsPath), minJudgeScore: opts.minJudgeScore ?? null, contamination: opts.contamination ?? null });
  return semanticMap(candidates, verdicts.map((v) => v.status !== 'rejected'), { threshold: cfg.dedup.semanticThreshold, keep: cfg.dedup.keep }, embed);
}

function sameCuration(it: StoredItem, v: CurationVerdict): boolean {
  return (
    it.status === v.status &&
    it.reason === v.reason &&
    it.detail === v.detail &&
    it.duplicateOf === v.duplicateOf &&
    it.similarity === v.similarity &&
    JSON.stringify(it.similar) === JSON.stringify(v.similar)
  );
}

/**
 * Judges the run's kept samples (and those an earlier judge threshold rejected) that have no score yet, or all of
 * them with `cfg.rejudge`. Scores, reasons and every request go to the store. Re-running continues where an
 * interrupted or budget-stopped pass left off.
 */
export async function judgeRun(store: RunStore, o: Omit<JudgeRunOptions, 'sink'>): Promise<JudgeOutcome> {
  const targets = store
    .listItems({ status: ['kept', 'rejected'] })
    .filter((it) => (it.status === 'kept' || it.reason === 'judge') && (o.cfg.rejudge || it.judgeScore === null))
    // With its score so far: a re-judge that fails keeps it (a score is replaced only by a new valid one).
    .map((it) => ({ id: it.id, instruction: it.instruction, input: it.input, output: it.output, judgeScore: it.judgeScore }));
  return judgeItems(targets, { ...o, sink: store });
}
