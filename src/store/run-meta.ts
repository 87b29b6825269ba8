import { z } from 'zod';
import { now, type RunConnection } from './run-connection.js';

/** A setting of a run changed on resume with --allow-change: what it was and what it became. */
export interface SettingChange {
  setting: string;
  oldValue: string | null;
  newValue: string | null;
}

export interface HistoryEntry extends SettingChange {
  at: string;
}

/**
 * The settings generation recorded when the run started (meta 'config': `{generation, prices}` as forge.yaml
 * had them). Read leniently: a run written by an older version may lack a field or hold one since renamed, and
 * each reader takes only what it needs (respond the sampling of response 0, resume the model). Unknown keys are
 * kept, so the whole snapshot can still be parsed as a forge.yaml (review's resume form).
 */
export const configSnapshotSchema = z
  .object({
    generation: z
      .object({
        model: z.string().optional().catch(undefined),
        temperature: z.number().nullable().optional().catch(undefined),
        topP: z.number().nullable().optional().catch(undefined),
        maxTokens: z.number().int().nullable().optional().catch(undefined),
        seed: z.number().int().nullable().optional().catch(undefined),
      })
      .loose()
      .optional()
      .catch(undefined),
  })
  .loose();
export type ConfigSnapshot = z.output<typeof configSnapshotSchema>;

const metaRowSchema = z.object({ value: z.string() });
const historyRowSchema = z.object({ at: z.string(), setting: z.string(), old_value: z.string().nullable(), new_value: z.string().nullable() });

/** The run's key/value settings (table meta) and the history of those changed on resume (run_history). */
export class RunMeta {
  constructor(private readonly c: RunConnection) {}

  get(key: string): string | undefined {
    const row = this.c.sql('SELECT value FROM meta WHERE key = ?').get(key);
    return row === undefined ? undefined : this.c.row(metaRowSchema, row).value;
  }

  set(key: string, value: string): void {
    this.c.sql('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Writes the run's settings and the history of those changed on resume together: both are there, or neither. */
  recordSettings(meta: Record<string, string>, changes: readonly SettingChange[]): void {
    const at = now();
    this.c.transaction(() => {
      for (const [k, v] of Object.entries(meta)) this.set(k, v);
      const ins = this.c.sql('INSERT INTO run_history(at, setting, old_value, new_value) VALUES (?, ?, ?, ?)');
      for (const ch of changes) ins.run(at, ch.setting, ch.oldValue, ch.newValue);
    })();
  }

  /** Settings changed on resume, oldest first. */
  history(): HistoryEntry[] {
    return this.c
      .sql('SELECT at, setting, old_value, new_value FROM run_history ORDER BY id')
      .all()
      .map((row) => {
        const r = this.c.row(historyRowSchema, row);
        return { at: r.at, setting: r.setting, oldValue: r.old_value, newValue: r.new_value };
      });
  }

  /** The config snapshot; undefined when the run has none or it is not a JSON object (it only adds provenance). */
  configSnapshot(): ConfigSnapshot | undefined {
    return parseConfigSnapshot(this.get('config'));
  }
}

/** Parses meta 'config' (see configSnapshotSchema); undefined when absent, not JSON, or not an object. */
export function parseConfigSnapshot(text: string | undefined): ConfigSnapshot | undefined {
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = configSnapshotSchema.safeParse(json);
  return r.success ? r.data : undefined;
}
