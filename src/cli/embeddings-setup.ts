import type { CommandContext } from './command.js';
import type { ForgeConfig } from '../config/schema.js';
import type { EmbeddingCache } from '../store/embedding-cache.js';
import type { EmbedOptions } from '../curate/embed-texts.js';
import { baseUrlFlags } from './base-url-flags.js';

/** The run a curation embeds for: what it has spent so far, and where each embeddings request is recorded. */
export interface EmbedRun {
  spentUsd: number;
  record: NonNullable<EmbedOptions['record']>;
}

export interface EmbedSetup {
  /** With a run, embeddings spend from what the run has spent (generation.budgetUsd caps the run) and are logged in it. */
  embedWith(cache: EmbeddingCache | null, run?: EmbedRun): (texts: string[]) => Promise<Float32Array[]>;
}

/**
 * The embeddings endpoints of `curate --dedup semantic`, as generation's requests go: several --base-url make a
 * pool, each asked for the embeddings model; one --base-url, or forge.yaml's baseUrl (else $OPENAI_BASE_URL), is
 * the one endpoint, unless generation.endpoints lists some serving that model, which then make the pool. Requests
 * go through the request loop with the pool's retries and pauses and generation.budgetUsd as their budget (for a
 * run, counted from what the run has already spent, as a resumed generation counts it); keys come from the
 * environment and stay in memory.
 */
export async function embeddingsSetup(ctx: CommandContext, forge: ForgeConfig, model: string, baseUrlFlag: string[] | undefined, say: (l: string) => void): Promise<EmbedSetup> {
  const { embeddingsFromPool } = await import('../llm/embeddings-client.js');
  const { poolEndpoints, poolFromConfig } = await import('../llm/pool-from-config.js');
  const { BudgetTracker } = await import('../llm/budget.js');
  const { embedTexts } = await import('../curate/embed-texts.js');
  const where = baseUrlFlags({ 'base-url': baseUrlFlag }, forge.generation, ctx.env);
  const serving = where.endpoints.filter((e) => (baseUrlFlag?.length ?? 0) > 1 || e.model === model);
  const g = { ...forge.generation, ...where, endpoints: serving };
  const endpoints = poolEndpoints(g, { model, apiKeyEnv: g.apiKeyEnv, concurrency: g.concurrency }, { apiKey: ctx.env[g.apiKeyEnv] || undefined, apiKeyFor: (name) => ctx.env[name] || undefined }).map((e) => ({ ...e, model }));
  const pool = poolFromConfig(g, endpoints, {
    prices: forge.prices,
    onTransport: (t) => {
      if (t.state === 'backoff') say(`embeddings: ${t.reason}; retrying in ${(t.waitMs / 1000).toFixed(1)} s (attempt ${t.attempt})`);
      else if (t.state === 'paused') say(`embeddings: endpoint paused for ${(t.waitMs / 1000).toFixed(1)} s: ${t.reason}`);
    },
    onWarning: (message) => say(`warning: ${message}`),
  });
  const client = embeddingsFromPool(pool, model);
  let last = 0;
  return {
    embedWith: (cache, run) => (texts) =>
      embedTexts(texts, {
        client,
        cache,
        ...(run ? { record: run.record } : {}),
        // Four batches of 64 texts in flight per endpoint (fewer where an endpoint allows fewer): a batch is a
        // large request, and a server embeds the texts of one batch together.
        concurrency: Math.min(pool.capacity, 4 * pool.size),
        budget: new BudgetTracker(forge.generation.budgetUsd ?? undefined, run?.spentUsd ?? 0),
        prices: forge.prices,
        signal: ctx.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (now - last < 2000 && p.cached + p.sent !== p.total) return;
          last = now;
          say(`embeddings: ${p.cached + p.sent}/${p.total} (${p.cached} cached, ${p.sent} sent to ${client.endpoint})`);
        },
      }),
  };
}
