import type { ForgeConfig } from '../config/schema.js';
import type { JudgeConfig } from '../config/curation.js';
import { judgeRun, recurateRun, runLang } from '../curate/curate-run.js';
import { createJudgeClient, loadJudgePrompt, type JudgeRunOptions } from '../curate/judge.js';
import type { JudgeEvent } from '../events.js';
import { acquireRunLock } from '../store/run-lock.js';
import { RunStore } from '../store/run-store.js';
import { rankRun } from './rank-responses.js';

export interface JudgeJobOptions {
  runDir: string;
  /** forge.yaml; its judge: section is the judge's settings unless `judge` replaces it */
  config: ForgeConfig;
  /** judge: score the kept samples 0–5 (curate --judge); rank: rate each candidate response (curate --rank) */
  mode: 'judge' | 'rank';
  judge?: JudgeConfig;
  /** From the environment variable named by generation.apiKeyEnv; held in memory only. */
  apiKey?: string | undefined;
  apiKeyFor?: (envName: string) => string | undefined;
  signal: AbortSignal;
  onEvent: (e: JudgeEvent) => void;
}

/**
 * `curate --run R --judge` or `--rank` as one job with events, for the terminal UI: the same client, prompts,
 * store writes and run lock as the command. Judging re-curates afterwards with forge.yaml's curation settings so
 * that judge.minScore applies, as the command does; ranking records each fully rated sample's order. Re-running
 * continues where a stopped job left off.
 */
export async function runJudgeJob(o: JudgeJobOptions): Promise<void> {
  const cfg = o.judge ?? o.config.judge;
  const started = Date.now();
  const client = createJudgeClient(o.config, cfg, {
    apiKey: o.apiKey,
    apiKeyFor: o.apiKeyFor ?? (() => undefined),
    onTransport: (transport) => o.onEvent({ type: 'transport', transport }),
    onWarning: (message) => o.onEvent({ type: 'warning', message }),
  });
  const store = RunStore.open(o.runDir);
  let release: (() => void) | undefined;
  try {
    release = acquireRunLock(o.runDir);
    const lang = runLang(store);
    o.onEvent({ type: 'start', runDir: o.runDir, mode: o.mode, model: client.model, concurrency: cfg.concurrency, rejudge: cfg.rejudge });
    const run: Omit<JudgeRunOptions, 'sink' | 'prompt'> = {
      client,
      cfg,
      lang,
      prices: o.config.prices,
      signal: o.signal,
      onProgress: (p) => o.onEvent({ type: 'progress', ...p, elapsedSec: (Date.now() - started) / 1000 }),
    };
    if (o.mode === 'rank') {
      const r = await rankRun(store, { ...run, prompt: loadJudgePrompt('rank', lang) });
      const { judge, ...ranked } = r;
      const order = `${ranked.ranked} samples ordered by the judge (${ranked.withTies} with ties)${ranked.incomplete ? `, ${ranked.incomplete} with a response not rated yet` : ''}`;
      o.onEvent({ type: 'done', stop: judge.stop, scored: judge.scored, failed: judge.failed, notJudged: judge.notJudged, costUsd: judge.costUsd, message: `${judge.message}; ${order}`, ranked });
      return;
    }
    const judged = await judgeRun(store, { ...run, prompt: loadJudgePrompt(cfg.prompt, lang) });
    // New scores matter through the threshold: re-curating applies it as `curate --judge` does.
    const again = cfg.minScore === null ? null : recurateRun(store, o.config.curation, { lang, minJudgeScore: cfg.minScore });
    const changed = again?.changed ?? 0;
    o.onEvent({
      type: 'done',
      stop: judged.stop,
      scored: judged.scored,
      failed: judged.failed,
      notJudged: judged.notJudged,
      costUsd: judged.costUsd,
      message: again ? `${judged.message}; ${changed} item(s) changed status under judge.minScore ${cfg.minScore}` : judged.message,
      changed,
    });
  } finally {
    release?.();
    store.close();
  }
}
