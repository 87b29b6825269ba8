import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ForgeError, UsageError } from '../errors.js';
import { parseConfigSnapshot, type RunStore, type SettingChange } from '../store/run-store.js';
import { loadSeedTasks } from '../data/seed-tasks.js';

/** Settings that make a run what it is: its items' provenance and prompts depend on them, so a resume keeps them. */
export const runSettingNames = ['seeds', 'model', 'template', 'lang'] as const;
export type RunSetting = (typeof runSettingNames)[number];

/** A resume that would change a setting of the run without --allow-change. */
export class RunChangedError extends ForgeError {
  readonly settings: RunSetting[];
  constructor(message: string, hint: string, settings: RunSetting[]) {
    super('config', message, { hint });
    this.name = 'RunChangedError';
    this.settings = settings;
  }
}

/** Parses --allow-change's list ("model,seeds"); an unknown name is a usage error naming the known ones. */
export function parseAllowChange(list: readonly string[] | undefined): Set<RunSetting> {
  const out = new Set<RunSetting>();
  for (const name of list ?? []) {
    if (!(runSettingNames as readonly string[]).includes(name)) {
      throw new UsageError(`--allow-change: unknown setting "${name}"`, `use one or more of ${runSettingNames.join(', ')} (comma-separated)`);
    }
    out.add(name as RunSetting);
  }
  return out;
}

export interface WantedSettings {
  /** --seeds (or generation.seeds) as given; null: the run's own seeds, or the bundled ones for a new run. */
  seeds: string | null;
  model: string;
  /** The template's name as given ("json", "alpaca" or a path). */
  template: string;
  lang: 'en' | 'zh';
}

export interface ResolvedSettings {
  /** Absolute path of the seed tasks this session uses. */
  seedsPath: string;
  seedsSha256: string;
  /** Meta entries to record (with `changes`, in one transaction: RunStore.recordSettings). */
  meta: Record<string, string>;
  /** Changes allowed by --allow-change, for the run's history. */
  changes: SettingChange[];
  /** Things the user should hear about that are not refusals (e.g. a seed file that could not be verified). */
  notes: string[];
}

export interface ResolveOptions {
  allowChange: ReadonlySet<RunSetting>;
  /** The bundled seeds for a language (a new run without --seeds). */
  defaultSeeds: (lang: 'en' | 'zh') => string;
  /** Relative paths (given now, or recorded by older versions) resolve against this. Defaults to process.cwd(). */
  cwd?: string;
}

const short = (sha: string) => sha.slice(0, 12);

/**
 * Decides the settings of this generate session against those the run was started with. A new run records what it
 * is given; a resume keeps the run's seeds when --seeds is absent, and refuses any change of seeds (by content),
 * model, template or language unless --allow-change names it, in which case the change goes into the run's history.
 */
export function resolveRunSettings(store: Pick<RunStore, 'getMeta'>, runDir: string, wanted: WantedSettings, opts: ResolveOptions): ResolvedSettings {
  const cwd = opts.cwd ?? process.cwd();
  const started = store.getMeta('created_at') !== undefined;
  const refused: Array<{ setting: RunSetting; line: string; fix: string }> = [];
  const changes: SettingChange[] = [];
  const notes: string[] = [];
  const allowOrRefuse = (setting: RunSetting, change: SettingChange, line: string, fix: string) => {
    if (opts.allowChange.has(setting)) changes.push(change);
    else refused.push({ setting, line, fix });
  };

  const compare = (setting: Exclude<RunSetting, 'seeds'>, old: string | undefined, now: string) => {
    if (!started || old === undefined || old === now) return;
    allowOrRefuse(setting, { setting, oldValue: old, newValue: now }, `${runDir} was started with --${setting} ${old}; this resume asks for ${now}`, `rerun with --${setting} ${old}`);
  };
  compare('model', store.getMeta('model') ?? snapshotModel(store), wanted.model);
  compare('template', store.getMeta('template_name'), wanted.template);
  compare('lang', store.getMeta('lang'), wanted.lang);

  // Runs written before seeds were hashed recorded the path as given, possibly relative to where they ran.
  const recordedPath = store.getMeta('seeds_path');
  const recordedAbs = recordedPath === undefined ? undefined : resolve(cwd, recordedPath);
  const recordedSha = store.getMeta('seeds_sha256');
  let seedsPath: string;
  if (wanted.seeds !== null) seedsPath = resolve(cwd, wanted.seeds);
  else if (started && recordedAbs !== undefined) {
    if (!existsSync(recordedAbs)) {
      const where = recordedPath === recordedAbs ? recordedAbs : `${recordedPath} (not found at ${recordedAbs})`;
      throw new RunChangedError(`${runDir}: the seed tasks it was started with, ${where}, are missing`, 'restore that file, or pass --seeds FILE with the same tasks', ['seeds']);
    }
    seedsPath = recordedAbs;
  } else seedsPath = opts.defaultSeeds(wanted.lang);

  let bytes: Buffer;
  try {
    bytes = readFileSync(seedsPath);
  } catch {
    loadSeedTasks(seedsPath); // throws the seed loader's own error, naming the file and what to do
    throw new Error(`unreachable: ${seedsPath} could not be read`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');

  if (started && recordedAbs !== undefined) {
    const oldLabel = `${recordedAbs} (sha256 ${recordedSha ? short(recordedSha) : 'not recorded'})`;
    const change: SettingChange = { setting: 'seeds', oldValue: oldLabel, newValue: `${seedsPath} (sha256 ${short(sha)})` };
    if (recordedSha !== undefined) {
      if (recordedSha !== sha) {
        if (seedsPath === recordedAbs) {
          allowOrRefuse('seeds', change, `${runDir} was started with --seeds ${recordedAbs} (sha256 ${short(recordedSha)}), which has changed since (now ${short(sha)})`, `restore ${recordedAbs} as it was`);
        } else {
          allowOrRefuse('seeds', change, `${runDir} was started with --seeds ${recordedAbs}; this resume asks for ${seedsPath} (other tasks: sha256 ${short(recordedSha)} vs ${short(sha)})`, `rerun with --seeds ${recordedAbs}`);
        }
      }
      // Same content at another path: the same seeds, so nothing changes but where the run finds them.
    } else if (seedsPath !== recordedAbs) {
      if (existsSync(recordedAbs)) {
        const oldSha = createHash('sha256').update(readFileSync(recordedAbs)).digest('hex');
        if (oldSha !== sha) allowOrRefuse('seeds', change, `${runDir} was started with --seeds ${recordedAbs}; this resume asks for ${seedsPath}`, `rerun with --seeds ${recordedAbs}`);
      } else {
        // An older run whose relative seeds path does not resolve from here: nothing to compare with, so the
        // user's --seeds is taken, and said out loud and in the history.
        changes.push(change);
        notes.push(`${runDir} recorded its seeds as ${recordedPath}, which is not at ${recordedAbs}; using ${seedsPath} as they (recorded in the run's history)`);
      }
    }
  }

  if (refused.length) {
    const settings = refused.map((r) => r.setting);
    throw new RunChangedError(
      refused.map((r) => r.line).join('\n'),
      `${refused.map((r) => r.fix).join(', ')}, or pass --allow-change ${settings.join(',')} to record the change${settings.length > 1 ? 's' : ''}`,
      settings,
    );
  }
  return {
    seedsPath,
    seedsSha256: sha,
    meta: { model: wanted.model, template_name: wanted.template, lang: wanted.lang, seeds_path: seedsPath, seeds_sha256: sha },
    changes,
    notes,
  };
}

/** Runs written before the model was recorded on its own still hold it in their config snapshot. */
function snapshotModel(store: Pick<RunStore, 'getMeta'>): string | undefined {
  return parseConfigSnapshot(store.getMeta('config'))?.generation?.model;
}
