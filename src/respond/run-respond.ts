import type { ForgeConfig } from '../config/schema.js';
import { ConfigError, DataError } from '../errors.js';
import type { RespondEvent, RespondOutcome, TransportState } from '../events.js';
export type { RespondEvent, RespondOutcome } from '../events.js';
import { BudgetTracker } from '../llm/budget.js';
import type { ChatRequest } from '../llm/chat-client.js';
import { chatClientFromConfig } from '../llm/client-from-config.js';
import { EndpointGate } from '../llm/endpoint-gate.js';
import type { EndpointPool, EndpointStatus } from '../llm/endpoint-pool.js';
import { endpointsServing, poolEndpoints, poolFromConfig } from '../llm/pool-from-config.js';
import { acquireRunLock } from '../store/run-lock.js';
import { ResponseStore, type Sampling } from '../store/responses.js';
import { RunStore, type StoredItem } from '../store/run-store.js';
import { loadRespondPrompt, renderRespondPrompt } from './respond-prompt.js';
import type { RespondSettings } from '../config/respond.js';
import { RequestLoop, type LoopAnswer, type LoopStats, type RequestMethod } from '../llm/request-loop.js';

export type { RespondSelection, RespondSettings } from '../config/respond.js';

export interface RunRespondOptions {
  runDir: string;
  config: ForgeConfig;
  settings: RespondSettings;
  /** From the environment variable named by generation.apiKeyEnv; held in memory only. */
  apiKey?: string | undefined;
  /** The key in an environment variable (an endpoint's apiKeyEnv); held in memory only. Defaults to none. */
  apiKeyFor?: (envName: string) => string | undefined;
  signal: AbortSignal;
  onEvent: (e: RespondEvent) => void;
  progressIntervalMs?: number;
}

interface Slot {
  item: StoredItem;
  idx: number;
  model: string;
}

/** Sends one request for a model; `onRoute` hears each endpoint it goes to (a pool may move it). */
type Sender = (req: ChatRequest, onRoute: (endpoint: string, model: string) => void) => Promise<LoopAnswer>;

/**
 * Gives every selected sample `responses` candidate answers: its own output is response 0, the others come from
 * the models through the run's endpoint, or generation.endpoints' pool of the endpoints serving each model (the
 * same chat client, endpoint gates and budget as generation). Re-running resumes: responses left in flight by a
 * killed run are marked abandoned and their slots asked again; a filled slot is never asked twice.
 */
export async function runRespond(opts: RunRespondOptions): Promise<RespondOutcome> {
  const s = opts.settings;
  if (s.responses < 2) throw new ConfigError([`--responses must be at least 2 (the sample's own output counts as one), got ${s.responses}`]);
  if (s.models.length === 0) throw new ConfigError(['--models: no model given']);
  const missingPrice = s.models.find((m) => !opts.config.prices[m]);
  if (s.budgetUsd !== null && missingPrice !== undefined) {
    throw new ConfigError([`a budget is set but prices has no entry for model "${missingPrice}", so spending cannot be measured`], `add prices.${missingPrice}: {input: USD per 1M tokens, output: USD per 1M tokens} to forge.yaml`);
  }
  const g = opts.config.generation;
  if (g.endpoints.length > 0) {
    // Refused here, before the run is opened or any request sent.
    const all = poolEndpoints(g, { model: g.model, apiKeyEnv: g.apiKeyEnv, concurrency: s.concurrency }, opts);
    for (const m of new Set(s.models)) endpointsServing(all, m, `model "${m}"`, "or pass --base-url to send respond's requests to one endpoint");
  }
  const store = RunStore.open(opts.runDir);
  let release: (() => void) | undefined;
  try {
    release = acquireRunLock(opts.runDir);
    return await respond(store, opts);
  } finally {
    release?.();
    store.close();
  }
}

/**
 * The model that generated the run (meta model, else its config snapshot's): respond's default, so that the
 * responses come from where the samples came from rather than from generation.model's default.
 */
export function runModel(runDir: string): string | undefined {
  const store = RunStore.open(runDir);
  try {
    return store.getMeta('model') ?? store.configSnapshot()?.generation?.model;
  } finally {
    store.close();
  }
}

/** Model and sampling of the run's own outputs, from generation's config snapshot. */
function sampleOrigin(store: RunStore): { model: string; sampling: Sampling } {
  const g = store.configSnapshot()?.generation ?? {};
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);
  return {
    model: typeof g.model === 'string' ? g.model : 'unknown',
    sampling: { temperature: num(g.temperature), topP: num(g.topP), maxTokens: int(g.maxTokens), seed: int(g.seed) },
  };
}

async function respond(store: RunStore, opts: RunRespondOptions): Promise<RespondOutcome> {
  const s = opts.settings;
  const g = opts.config.generation;
  const emit = opts.onEvent;
  const responses = new ResponseStore(store);
  const lang = store.getMeta('lang') === 'zh' ? 'zh' : 'en';
  const prompt = loadRespondPrompt(s.prompt, lang);
  const items = s.status === 'accepted' ? store.listItems({ review: ['accepted'] }) : store.usableItems();
  if (items.length === 0) throw new DataError(`${opts.runDir}: no ${s.status} samples to respond to`, s.status === 'accepted' ? 'accept samples in `alpaca-forge review` first, or use --status kept' : 'generate or curate the run first');

  const resumed = responses.counts().ok > 0;
  const abandoned = responses.abandonInFlight();
  const origin = sampleOrigin(store);
  for (const it of items) responses.addSampleResponse(it.id, it.output, origin.model, origin.sampling);
  const filledSlots = responses.filledSlots();
  const slots: Slot[] = [];
  for (const item of items) {
    const have = filledSlots.get(item.id);
    for (let idx = 1; idx < s.responses; idx++) {
      if (!have?.has(idx)) slots.push({ item, idx, model: s.models[(idx - 1) % s.models.length]! });
    }
  }
  const totalSlots = items.length * s.responses;
  let filled = totalSlots - slots.length;

  const { senders, endpoints, pools } = g.endpoints.length === 0 ? baseUrlSenders(opts) : poolSenders(opts);
  const seedOf = (slot: Slot) => (g.seed === null ? null : g.seed + slot.item.id * 1000 + slot.idx);
  emit({
    type: 'start',
    runDir: opts.runDir,
    items: items.length,
    slots: totalSlots,
    filled,
    models: s.models,
    baseUrl: [...new Set(endpoints.map((e) => e.endpoint))].join(', '),
    endpoints,
    concurrency: s.concurrency,
    abandoned,
    resumed,
  });

  const budget = new BudgetTracker(s.budgetUsd ?? undefined, responses.counts().costUsd);
  const spentBefore = budget.spentUsd;
  const progress = (st: LoopStats): RespondEvent => ({
    type: 'progress',
    filled,
    slots: totalSlots,
    requestsDone: st.requestsDone,
    requestsFailed: st.requestsFailed,
    inFlight: st.inFlight,
    costUsd: st.spentUsd,
    promptTokens: st.promptTokens,
    completionTokens: st.completionTokens,
    elapsedSec: st.elapsedSec,
    ...(pools.some((p) => p.size > 1) ? { endpoints: pools.flatMap((p) => p.status()) } : {}),
  });
  const loop = new RequestLoop({
    send: (req, onRoute) => senders.get(req.model)!(req, onRoute),
    concurrency: s.concurrency,
    budget,
    prices: opts.config.prices,
    signal: opts.signal,
    progressIntervalMs: opts.progressIntervalMs,
    onProgress: (st) => emit(progress(st)),
  });

  let nextSlot = 0;
  let truncated = 0;
  const method: RequestMethod<Slot & { responseId: number }> = {
    next: () => (nextSlot < slots.length ? { ...slots[nextSlot++]!, responseId: 0 } : 'done'),
    build: (slot) => {
      const seed = seedOf(slot);
      return {
        model: slot.model,
        messages: [{ role: 'user', content: renderRespondPrompt(prompt, slot.item) }],
        temperature: s.temperature,
        topP: s.topP,
        maxTokens: s.maxTokens,
        ...(seed !== null ? { seed } : {}),
      };
    },
    sent: (slot) => {
      slot.responseId = responses.beginResponse(slot.item.id, slot.idx, slot.model, { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens, seed: seedOf(slot) });
    },
    // Recorded as the request goes out, so a failed or abandoned response names its endpoint too.
    routed: (slot, endpoint, model) => responses.routeResponse(slot.responseId, endpoint, model),
    ingest: (slot, r) => {
      const answer = { text: r.text.trim(), finishReason: r.finishReason, promptTokens: r.promptTokens, completionTokens: r.completionTokens, costUsd: r.costUsd, model: r.model ?? slot.model };
      // A response cut off at --max-tokens is no candidate to rank: kept (it was paid for) but failed, asked again on a re-run.
      if (r.finishReason === 'length') {
        truncated++;
        responses.failResponse(slot.responseId, `truncated at --max-tokens ${s.maxTokens} (finish_reason length)`, answer);
        return;
      }
      responses.completeResponse(slot.responseId, answer);
      filled++;
    },
    failed: (slot, f) => {
      if (f.kind === 'abandoned') responses.abandonResponse(slot.responseId, f.message);
      else responses.failResponse(slot.responseId, f.message);
    },
  };
  const outcome = await loop.run(method);
  const st = loop.snapshot();
  emit(progress(st));
  const reason: RespondOutcome['reason'] = outcome.stop === 'done' ? 'done' : outcome.stop;
  const spent = `$${(st.spentUsd - spentBefore).toFixed(4)}`;
  const left = totalSlots - filled;
  const cut = truncated ? `, ${truncated} cut off at --max-tokens ${s.maxTokens} (raise it)` : '';
  const message =
    reason === 'done'
      ? left === 0
        ? `${items.length} samples × ${s.responses} responses: all ${totalSlots} there (${st.requestsDone} new, spent ${spent})`
        : `${filled}/${totalSlots} responses; ${st.requestsFailed} failed every retry${cut} — rerun the same command to ask again`
      : reason === 'budget'
        ? `stopped before exceeding the budget of $${s.budgetUsd}: ${filled}/${totalSlots} responses, spent ${spent}`
        : reason === 'endpoint-down'
          ? `${outcome.endpointDown!.message}; ${filled}/${totalSlots} responses — rerun the same command to resume once the endpoint is back`
          : `interrupted at ${filled}/${totalSlots} responses; rerun the same command to resume`;
  emit({ type: 'done', reason, filled, slots: totalSlots, costUsd: st.spentUsd, message });
  return { reason, filled, slots: totalSlots, message };
}

interface Senders {
  senders: Map<string, Sender>;
  endpoints: Array<{ endpoint: string; model: string }>;
  pools: EndpointPool[];
}

/** No generation.endpoints: every model at generation.baseUrl (else $OPENAI_BASE_URL), one gate for them all. */
function baseUrlSenders(opts: RunRespondOptions): Senders {
  const g = opts.config.generation;
  const emit = opts.onEvent;
  const gate = new EndpointGate({
    pauseAfterFailures: g.pauseAfterFailures,
    pauseMs: g.pauseSeconds * 1000,
    maxPauses: g.maxPauses,
    onState: (transport) => emit({ type: 'transport', transport }),
  });
  const senders = new Map<string, Sender>();
  const endpoints: Senders['endpoints'] = [];
  for (const model of new Set(opts.settings.models)) {
    const client = chatClientFromConfig(g, { model, apiKey: opts.apiKey, prices: opts.config.prices, gate, onTransport: (transport) => emit({ type: 'transport', transport }) });
    endpoints.push({ endpoint: client.endpoint, model });
    senders.set(model, async (req, onRoute) => {
      onRoute(client.endpoint, model);
      const r = await client.complete(req);
      return { ...r, endpoint: client.endpoint, model: r.model ?? model };
    });
  }
  return { senders, endpoints, pools: [] };
}

/**
 * generation.endpoints: per model, a pool of the endpoints serving it (runRespond checked there is one), each with
 * its own gate and key as in generate; an endpoint without its own concurrency takes respond's.
 */
function poolSenders(opts: RunRespondOptions): Senders {
  const g = opts.config.generation;
  const emit = opts.onEvent;
  const all = poolEndpoints(g, { model: g.model, apiKeyEnv: g.apiKeyEnv, concurrency: opts.settings.concurrency }, opts);
  const senders = new Map<string, Sender>();
  const pools: EndpointPool[] = [];
  for (const model of new Set(opts.settings.models)) {
    const pool = poolFromConfig(
      g,
      endpointsServing(all, model, `model "${model}"`, 'or pass --base-url'),
      { prices: opts.config.prices, onTransport: (transport) => emit({ type: 'transport', transport }), onWarning: (message) => emit({ type: 'warning', message }) },
    );
    pools.push(pool);
    senders.set(model, (req, onRoute) => pool.complete(req, onRoute));
  }
  return { senders, endpoints: pools.flatMap((p) => p.status().map(({ endpoint, model }) => ({ endpoint, model }))), pools };
}
