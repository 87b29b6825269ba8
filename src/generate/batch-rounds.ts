import { randomBytes } from 'node:crypto';
import type { ForgeConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { hasBatchPrices } from '../llm/budget.js';
import { BatchApi } from './batch-api.js';
import { interrupted, runApiRounds } from './batch-api-rounds.js';
import { emitRound, ingestBatchFile } from './batch-file-rounds.js';
import { BatchRoundState, type BatchOutcomeSummary, type BatchRoundsContext } from './batch-round-state.js';

export type { BatchAction, BatchRoundsContext } from './batch-round-state.js';

/**
 * Generation in rounds of batch requests: through the Batch API (batch-api-rounds.ts), or one offline round per
 * process with --emit-batch / --ingest-batch (batch-file-rounds.ts). Self-instruct shows each request some of the
 * run's own kept tasks, so a round is built only after the previous one is curated; a job of several steps (an
 * evolution, then its response) sends its next step in the next round, and evol's next round of evolution starts
 * once this one's are all answered. How a killed process resumes: BatchRoundState.
 */
export async function runBatchRounds(ctx: BatchRoundsContext & { api?: BatchApi }): Promise<BatchOutcomeSummary> {
  const { store, g, emit, action } = ctx;
  if (action.kind === 'api' && g.endpoints.length > 0) {
    // A batch lives at the endpoint that took it; spreading rounds over a pool would scatter them.
    throw new ConfigError([`generation.endpoints lists ${g.endpoints.length} endpoints, but batch mode sends its rounds to one endpoint (generation.baseUrl)`], 'remove generation.endpoints (or give one --base-url) for --mode batch, or use --mode online for a pool');
  }
  const runTag = store.getMeta('run_tag') ?? randomBytes(4).toString('hex');
  store.setMeta('run_tag', runTag);
  const s = new BatchRoundState(ctx, runTag);
  // Test hook: the Batch API client (its polling waits come from generation.batch).
  const api = action.kind === 'api' ? (ctx.api ?? new BatchApi({ baseURL: g.baseUrl ?? undefined, apiKey: ctx.apiKey, maxRetries: g.maxRetries })) : null;
  emit({
    type: 'start',
    runDir: ctx.runDir,
    model: g.model,
    baseUrl: api?.baseURL ?? (action.kind === 'api' ? '' : `file ${action.file}`),
    template: ctx.templateName,
    lang: g.lang,
    target: g.target,
    kept: s.kept,
    concurrency: g.batch.maxRequests,
    resumed: ctx.resumed,
    abandonedRequests: ctx.abandoned,
  });
  if (pricedWithoutBatchPrices(ctx.config, g.model)) {
    emit({ type: 'warning', message: `prices.${g.model} has no batchInput/batchOutput: batch requests are counted at the normal price (the OpenAI Batch API charges about half); add them to forge.yaml for the real cost` });
  }
  try {
    if (action.kind === 'emit') return emitRound(s, action.file);
    if (action.kind === 'ingest') return await ingestBatchFile(s, action.file);
    return await runApiRounds(s, api!, action.cancel);
  } catch (err) {
    if (ctx.signal.aborted) return interrupted(s);
    throw err;
  }
}

function pricedWithoutBatchPrices(config: ForgeConfig, model: string): boolean {
  return config.prices[model] !== undefined && !hasBatchPrices(config.prices, model);
}
