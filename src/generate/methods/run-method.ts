import type { ForgeConfig } from '../../config/schema.js';
import type { GenerationConfig } from '../../config/generation.js';
import { ApiError } from '../../errors.js';
import type { GenerateEvent, TransportState } from '../../events.js';
import type { RunStore } from '../../store/run-store.js';
import { RetriesExhaustedError, type ChatResult } from '../../llm/chat-client.js';
import { BudgetTracker, costOf } from '../../llm/budget.js';
import { EndpointDownError } from '../../llm/endpoint-gate.js';
import { poolEndpoints, poolFromConfig, type PoolKeys } from '../../llm/pool-from-config.js';
import { RequestAborts } from '../../llm/request-aborts.js';
import { sleep } from '../../llm/retry-policy.js';
import type { EndpointPool } from '../../llm/endpoint-pool.js';
import { IngestPipeline } from '../ingest-pipeline.js';
import type { GenerationMethod, MethodItem, MethodRequest, Step } from './method.js';

export interface RunMethodOptions extends PoolKeys {
  store: RunStore;
  runDir: string;
  config: ForgeConfig;
  method: GenerationMethod<unknown> & { failed?: (state: never) => void; currentRound?: number };
  signal: AbortSignal;
  onEvent: (e: GenerateEvent) => void;
  pause?: { paused: boolean } | undefined;
  progressIntervalMs?: number | undefined;
  resumed: boolean;
  abandoned: number;
}

export type MethodOutcome = { reason: 'target' | 'budget' | 'interrupted' | 'endpoint-down' | 'exhausted'; kept: number; message: string };

/** Magpie's completions endpoint answered 404: the one fix is a server that serves /v1/completions. */
export class CompletionsNotServedError extends ApiError {
  constructor(endpoint: string) {
    super(`${endpoint}/completions answered 404: Magpie needs /v1/completions (served by vLLM, llama.cpp server and Ollama)`, 404, 'point --base-url at a server with a completions endpoint, or use --method self-instruct or evol');
    this.name = 'CompletionsNotServedError';
  }
}

/**
 * Drives a generation method (evol, magpie) until the run holds the target or the method has no more work: the
 * current loop's pieces (the endpoint pool, budget reservations, per-request aborts, the writer thread that curates
 * and commits) around a method that builds one request and ingests one answer. A piece of work holds its
 * concurrency slot through all its requests (an evolution, then its response).
 */
export async function runMethod(o: RunMethodOptions): Promise<MethodOutcome> {
  const { store, method } = o;
  const g: GenerationConfig = o.config.generation;
  const emit = o.onEvent;
  const ingest = IngestPipeline.start({ runDir: o.runDir, config: o.config, lang: g.lang, target: g.target, seeds: [] });
  const budget = new BudgetTracker(g.budgetUsd ?? undefined, store.spentUsd());
  const internal = new RequestAborts(o.signal);
  const poolOpts = {
    prices: o.config.prices,
    onTransport: (transport: TransportState) => emit({ type: 'transport', transport }),
    onWarning: (message: string) => emit({ type: 'warning', message }),
  };
  const pool = poolFromConfig(g, poolEndpoints(g, g, o), poolOpts);
  // Magpie's responses may come from another model on the same endpoints (--response-model).
  const responseModel = g.method === 'magpie' ? g.magpie.responseModel : null;
  const responseWhere = { ...g, endpoints: g.endpoints.map((e) => ({ ...e, model: responseModel ?? g.model })) };
  const chatPool: EndpointPool = responseModel ? poolFromConfig(responseWhere, poolEndpoints(responseWhere, { ...g, model: responseModel }, o), poolOpts) : pool;
  const concurrency = Math.min(g.concurrency, pool.capacity);
  let kept = store.countItems('kept');
  let nextRequestId = store.nextRequestId();
  const elapsedBefore = Number(store.getMeta('elapsed_ms') ?? 0);
  emit({ type: 'start', runDir: o.runDir, model: g.model, baseUrl: pool.status().map((e) => e.endpoint).join(', '), template: g.method === 'magpie' ? g.magpie.template : `evol ${g.evol.operators}`, lang: g.lang, target: g.target, kept, concurrency, resumed: o.resumed, abandonedRequests: o.abandoned });

  const started = Date.now();
  const keptAtStart = kept;
  let requestsDone = 0;
  let requestsFailed = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  let inFlight = 0;
  let fatal: unknown = null;
  const rejections: Record<string, number> = {};
  const progress = (): GenerateEvent => {
    const elapsedSec = (Date.now() - started) / 1000;
    const rate = (kept - keptAtStart) / Math.max(elapsedSec, 1e-3);
    return { type: 'progress', kept, target: g.target, requestsDone, requestsFailed, inFlight, requestsPerSec: requestsDone / Math.max(elapsedSec, 1e-3), tokensPerSec: (promptTokens + completionTokens) / Math.max(elapsedSec, 1e-3), promptTokens, completionTokens, costUsd: budget.spentUsd, budgetUsd: g.budgetUsd, etaSec: rate > 0 ? Math.max(0, g.target - kept) / rate : null, elapsedSec, rejections: { ...rejections } };
  };
  const tick = setInterval(() => {
    emit(progress());
    ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(elapsedBefore + Date.now() - started) });
  }, o.progressIntervalMs ?? 1000);
  let wake: () => void = () => {};
  const nextChange = () => new Promise<void>((resolve) => (wake = resolve));

  const maxTokensOf = (r: MethodRequest) => r.maxTokens ?? g.maxTokens;
  const worstCaseUsd = (r: MethodRequest, model: string) => costOf(o.config.prices, model, Math.ceil((r.kind === 'chat' ? r.messages.map((m) => m.content).join('') : r.prompt).length / 2), maxTokensOf(r));

  /** Sends one request; null when it failed for good (recorded) or was interrupted. */
  const send = async (step: Step<unknown>, requestId: number): Promise<ChatResult | null> => {
    const r = step.request;
    const target = r.kind === 'chat' ? chatPool : pool;
    const model = r.kind === 'chat' && responseModel ? responseModel : g.model;
    const reserved = worstCaseUsd(r, model);
    budget.reserve(reserved);
    ingest.send({ type: 'begin', requestId, provenance: { method: method.name, request: r.kind, state: step.state } });
    try {
      const result = await internal.run((signal) =>
        target.complete(
          {
            messages: r.kind === 'chat' ? r.messages : [],
            ...(r.kind === 'completion' ? { prompt: r.prompt, stop: r.stop } : {}),
            temperature: g.temperature,
            topP: g.topP,
            maxTokens: maxTokensOf(r),
            ...(g.seed !== null ? { seed: g.seed + requestId } : {}),
            signal,
          },
          (endpoint, m) => ingest.send({ type: 'endpoint', requestId, endpoint, model: m }),
        ),
      );
      budget.settle(reserved, result.costUsd);
      requestsDone++;
      promptTokens += result.promptTokens;
      completionTokens += result.completionTokens;
      return result;
    } catch (err) {
      budget.settle(reserved, 0);
      if (internal.signal.aborted) {
        ingest.send({ type: 'fail', requestId, error: 'interrupted before the answer arrived', abandoned: true });
        return null;
      }
      requestsFailed++;
      ingest.send({ type: 'fail', requestId, error: err instanceof Error ? err.message : String(err) });
      if (err instanceof RetriesExhaustedError) return null;
      const e = r.kind === 'completion' && err instanceof ApiError && err.status === 404 ? new CompletionsNotServedError(pool.status()[0]?.endpoint ?? 'the endpoint') : err;
      if (fatal === null) fatal = e;
      internal.abort(e);
      throw e;
    }
  };

  /** One piece of work: its requests one after the other, then its item committed and curated. */
  const work = async (first: Step<unknown>): Promise<void> => {
    let step = first;
    for (;;) {
      const requestId = nextRequestId++;
      const result = await send(step, requestId);
      if (!result) {
        method.failed?.(step.state as never);
        return;
      }
      const answer = { text: result.text, finishReason: result.finishReason };
      const out = method.ingest(step, answer);
      const stored = { raw: result.text, finishReason: result.finishReason, promptTokens: result.promptTokens, completionTokens: result.completionTokens, costUsd: result.costUsd, model: result.model ?? null };
      const items: MethodItem[] = 'item' in out ? [out.item] : [];
      const done = await ingest.complete({ type: 'complete-items', requestId, result: stored, items });
      if ('then' in out) {
        if (internal.signal.aborted) {
          method.failed?.(out.then.state as never);
          return;
        }
        step = out.then;
        continue;
      }
      kept = done.kept;
      for (const [reason, n] of Object.entries(done.rejections)) rejections[reason] = (rejections[reason] ?? 0) + n;
      if (done.keptSamples.length > 0) emit({ type: 'samples', latest: [...done.keptSamples].reverse() });
      const v = done.verdicts?.[0];
      if (v) method.committed(out.item, v.id, v.kept);
      return;
    }
  };

  const running = new Set<Promise<void>>();
  let stop: MethodOutcome['reason'] | null = null;
  try {
    while (stop === null && fatal === null) {
      if (kept >= g.target) stop = 'target';
      else if (internal.signal.aborted) stop = 'interrupted';
      else if (o.pause?.paused) await Promise.race([sleep(200), nextChange()]);
      // Pieces in flight may each keep one item: no more than the target still needs (plus a slack for drops).
      else if (inFlight >= concurrency || inFlight >= Math.max(1, 2 * (g.target - kept))) await nextChange();
      else {
        const step = method.start();
        if (!step) {
          if (running.size === 0) {
            if (method.exhausted) stop = 'exhausted';
            else await nextChange();
            if (method.exhausted && running.size === 0) stop = 'exhausted';
          } else await nextChange();
          continue;
        }
        if (budget.wouldExceed(worstCaseUsd(step.request, g.model) * 2)) {
          method.failed?.(step.state as never);
          if (running.size === 0) stop = 'budget';
          else await nextChange();
          continue;
        }
        inFlight++;
        const p: Promise<void> = work(step)
          .catch((err: unknown) => {
            if (fatal === null) fatal = err;
            internal.abort(err);
          })
          .finally(() => {
            inFlight--;
            running.delete(p);
            wake();
          });
        running.add(p);
      }
    }
    await Promise.allSettled([...running]);
  } finally {
    clearInterval(tick);
    internal.dispose();
    ingest.send({ type: 'meta', key: 'elapsed_ms', value: String(elapsedBefore + Date.now() - started) });
    await ingest.close();
  }
  if (fatal !== null) {
    if (fatal instanceof EndpointDownError) {
      const message = `${fatal.message}; stopped — rerun the same command to resume once the endpoint is back`;
      emit({ type: 'done', reason: 'endpoint-down', kept, target: g.target, costUsd: budget.spentUsd, message });
      return { reason: 'endpoint-down', kept, message };
    }
    throw fatal;
  }
  const reason = stop ?? 'interrupted';
  emit(progress());
  const message =
    reason === 'target'
      ? `target reached: ${kept} kept samples`
      : reason === 'exhausted'
        ? `evol finished its ${g.evol.rounds} rounds: ${kept}/${g.target} kept (raise --rounds or give more input to go on)`
        : reason === 'budget'
          ? `stopped before exceeding the budget of $${g.budgetUsd}: spent $${budget.spentUsd.toFixed(4)}, ${kept}/${g.target} kept`
          : `interrupted at ${kept}/${g.target} kept; rerun the same command to resume`;
  emit({ type: 'done', reason, kept, target: g.target, costUsd: budget.spentUsd, message });
  return { reason, kept, message };
}
