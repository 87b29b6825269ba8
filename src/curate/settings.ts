import { ConfigError } from '../errors.js';
import type { ForgeConfig } from '../config/schema.js';
import { curationConfigSchema, judgeConfigSchema, type CurationConfig, type JudgeConfig } from '../config/curation.js';

/** The `curation:` and `judge:` sections of a loaded forge.yaml (validated with the rest of the file). */
export function curationSettings(config: ForgeConfig): { curation: CurationConfig; judge: JudgeConfig } {
  return { curation: config.curation, judge: config.judge };
}

/** Applies a partial override (from command-line flags) and validates the result like a config file. */
export function overrideCuration(cfg: CurationConfig, dedup: Overrides<CurationConfig['dedup']>): CurationConfig {
  const r = curationConfigSchema.safeParse({ ...cfg, dedup: { ...cfg.dedup, ...defined(dedup) } });
  if (!r.success) throw new ConfigError(r.error.issues.map((i) => `command line: curation.${i.path.join('.')}: ${i.message}`), 'fix the flag value (see --help)');
  return r.data;
}

export function overrideJudge(cfg: JudgeConfig, over: Overrides<JudgeConfig>): JudgeConfig {
  const r = judgeConfigSchema.safeParse({ ...cfg, ...defined(over) });
  if (!r.success) throw new ConfigError(r.error.issues.map((i) => `command line: judge.${i.path.join('.')}: ${i.message}`), 'fix the flag value (see --help)');
  return r.data;
}

/** Settings from flags: a flag that was not given is undefined. */
type Overrides<T> = { [K in keyof T]?: T[K] | undefined };

/** A flag that was not given must not replace the config file's value (nor reset it to the default). */
function defined<T extends object>(o: Overrides<T>): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
