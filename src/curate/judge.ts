import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { promptsDir } from '../paths.js';
import type { Prices } from '../config/generation.js';
import type { ForgeConfig } from '../config/schema.js';
import type { TransportState } from '../events.js';
import type { ChatRequest, ChatResult } from '../llm/chat-client.js';
import { endpointsServing, poolEndpoints, poolFromConfig, type PoolKeys } from '../llm/pool-from-config.js';
import { chatClientFromConfig } from '../llm/client-from-config.js';
import { BudgetTracker } from '../llm/budget.js';
import { RequestLoop, type RequestMethod } from '../llm/request-loop.js';
import { endpointOf } from '../llm/endpoint-of.js';
import type { RunStore } from '../store/run-store.js';
import type { JudgeConfig } from '../config/curation.js';
import type { Lang, Sample } from '../data/sample.js';

/** LLM-as-judge (as AlpaGasus: rate each sample 0–5 for accuracy and helpfulness, keep those above a bar). */

export interface JudgePrompt {
  file: string;
  body: string;
}

const PLACEHOLDERS = new Set(['instruction', 'input', 'output']);

/** "judge" → the bundled prompts/judge.LANG.md; anything else is the path of a template file. */
export function loadJudgePrompt(name: string, lang: Lang): JudgePrompt {
  const bundled = /^[a-z0-9_-]+$/i.test(name) ? join(promptsDir(), `${name}.${lang}.md`) : null;
  const file = bundled && existsSync(bundled) ? bundled : name;
  if (!existsSync(file)) throw new ConfigError([`judge.prompt: no prompt "${name}" (looked for ${bundled ?? file})`], 'use "judge" or the path of a prompt file with {{instruction}}, {{input}} and {{output}}');
  const body = readFileSync(file, 'utf8');
  const used = new Set<string>();
  for (const [, ph] of body.matchAll(/\{\{(\w+)\}\}/g)) {
    if (!PLACEHOLDERS.has(ph!)) throw new ConfigError([`${file}: unknown placeholder {{${ph}}}`], 'placeholders are {{instruction}}, {{input}} and {{output}}');
    used.add(ph!);
  }
  if (!used.has('instruction') || !used.has('output')) throw new ConfigError([`${file}: a judge prompt needs {{instruction}} and {{output}}`]);
  return { file, body };
}

export function renderJudgePrompt(p: JudgePrompt, item: Sample, lang: Lang): string {
  const values: Record<string, string> = { instruction: item.instruction, input: item.input.trim() === '' ? (lang === 'zh' ? '（无）' : '(none)') : item.input, output: item.output };
  // One pass, so text inside a sample that looks like a placeholder is never substituted.
  return p.body.replace(/\{\{(instruction|input|output)\}\}/g, (_, k: string) => values[k]!);
}

const scoreSchema = z.union([z.number(), z.string().regex(/^\s*\d+(?:\.\d+)?\s*$/).transform(Number)]).pipe(z.number().min(0).max(5));
const answerSchema = z.object({ score: scoreSchema, reason: z.string().default('') });

export type JudgeAnswer = { ok: true; score: number; reason: string } | { ok: false; error: string };

export type ParsedAnswer<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * The first JSON object in a model's answer that `schema` accepts, tolerating code fences and text around it.
 * `expected` describes the object for the error, e.g. '{"score": 0-5, "reason": "…"}'.
 */
export function parseJsonAnswer<T>(text: string, schema: z.ZodType<T>, expected: string): ParsedAnswer<T> {
  const body = text.replace(/```(?:json)?/gi, '');
  const candidates: string[] = [];
  const first = body.indexOf('{');
  const last = body.lastIndexOf('}');
  if (first >= 0 && last > first) candidates.push(body.slice(first, last + 1));
  for (const m of body.matchAll(/\{[^{}]*\}/g)) candidates.push(m[0]);
  let error = 'no JSON object in the answer';
  for (const c of candidates) {
    let data: unknown;
    try {
      data = JSON.parse(c);
    } catch {
      error = 'the answer is not valid JSON';
      continue;
    }
    const r = schema.safeParse(data);
    if (r.success) return { ok: true, value: r.data };
    error = `expected ${expected} (${r.error.issues[0]?.path.join('.') || 'object'}: ${r.error.issues[0]?.message})`;
  }
  return { ok: false, error };
}

/** The judge's JSON, tolerating code fences and text around it; a score outside 0–5 is not an answer. */
export function parseJudgeAnswer(text: string): JudgeAnswer {
  const r = parseJsonAnswer(text, answerSchema, '{"score": 0-5, "reason": "…"}');
  return r.ok ? { ok: true, score: r.value.score, reason: r.value.reason.trim() } : r;
}

const REPAIR = {
  en: 'Your answer could not be read. Reply with only a JSON object: {"score": <number from 0 to 5>, "reason": "<one sentence>"}',
  zh: '无法解析你的回答。请只回复一个 JSON 对象：{"score": <0 到 5 之间的数字>, "reason": "<一句话理由>"}',
};

export interface JudgeClient {
  readonly model: string;
  /** Recorded with each judge request (ChatClient has it) unless the answer names its endpoint (a pool's does). */
  readonly baseURL?: string;
  complete(req: ChatRequest): Promise<ChatResult & { endpoint?: string }>;
}

/**
 * The judge's client: judge.model (else generation.model) with generation's timeout, retries and pauses, the same
 * settings and circuit breaker as `generate` (a judge that ignored them hammered a failing endpoint). With
 * generation.endpoints, a pool of the endpoints that serve the judge's model, as respond's: falling back to
 * baseUrl (or api.openai.com) would send the samples somewhere the user did not list.
 */
export function createJudgeClient(
  forge: ForgeConfig,
  cfg: JudgeConfig,
  o: PoolKeys & { onTransport?: (s: TransportState) => void; onWarning?: (message: string) => void },
): JudgeClient {
  const g = forge.generation;
  const model = cfg.model ?? g.model;
  if (g.endpoints.length === 0) {
    return chatClientFromConfig(g, { apiKey: o.apiKey, prices: forge.prices, model, baseURL: g.baseUrl ?? undefined, ...(o.onTransport ? { onTransport: o.onTransport } : {}) });
  }
  const serving = endpointsServing(poolEndpoints(g, { model: g.model, apiKeyEnv: g.apiKeyEnv, concurrency: cfg.concurrency }, o), model, `the judge's model "${model}"`, 'set judge.model to one they serve, or pass --base-url');
  const pool = poolFromConfig(g, serving, { prices: forge.prices, onTransport: (t) => o.onTransport?.(t), onWarning: (m) => o.onWarning?.(m) });
  return { model, complete: (req) => pool.complete(req) };
}

/** Where judgements go: RunStore for a run, an in-memory map for a file. */
export interface JudgeSink {
  setJudge(id: number, score: number | null, reason: string): void;
  recordJudgeRequest(r: JudgeRequestRecord): void;
}

export type JudgeRequestRecord = Parameters<RunStore['recordJudgeRequest']>[0];

export interface JudgeTarget extends Sample {
  id: number;
  /** Its score so far (a re-judge): a failed re-judge keeps it. */
  judgeScore?: number | null;
}

export interface JudgeOutcome {
  /** Items that got a score. */
  scored: number;
  /** Items whose answers stayed unparseable or whose requests failed every retry (recorded, score null). */
  failed: number;
  /** Items not judged because the run stopped first (budget, Ctrl-C, endpoint down); judged on a re-run. */
  notJudged: number;
  costUsd: number;
  stop: 'done' | 'budget' | 'interrupted' | 'endpoint-down';
  message: string;
}

export interface JudgeRunOptions {
  client: JudgeClient;
  prompt: JudgePrompt;
  cfg: JudgeConfig;
  lang: Lang;
  sink: JudgeSink;
  prices?: Prices;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; scored: number; failed: number; costUsd: number }) => void;
}

/** How the answers of one kind of rating are read, and what to say when one cannot be. */
export interface RatingFormat<T> {
  parse(text: string): ParsedAnswer<T>;
  /** The message that asks again after an unreadable answer. */
  repair: Record<'en' | 'zh', string>;
}

/** Where ratings go. `id` is the rated thing's (a sample's, a response's). */
export interface RatingSink<T> {
  rated(id: number, value: T): void;
  /** Stayed unparseable ("unparseable: …") or failed every retry ("failed: …"). */
  unrated(id: number, reason: string): void;
  recordRequest(r: { id: number; promptTokens: number; completionTokens: number; costUsd: number; raw: string; ok: boolean; model: string; endpoint?: string }): void;
}

export interface RatingTask {
  id: number;
  prompt: string;
  /** It has a valid rating already (a re-judge): a failure keeps that one. */
  rated?: boolean;
}

export interface RatingRunOptions<T> extends Omit<JudgeRunOptions, 'sink' | 'prompt'> {
  format: RatingFormat<T>;
  sink: RatingSink<T>;
  /** What the tasks are, for the outcome message ("samples", "responses"). */
  noun?: string;
}

/**
 * Judges every target through the shared chat client (its retry, backoff and circuit breaker), `cfg.concurrency`
 * at a time. An answer that is not JSON {score, reason} is asked again (with the bad answer and a short repair
 * message) up to `cfg.parseRetries` times, then recorded as unparseable; a request that fails every retry is
 * recorded as failed. Neither stops the batch. Every request is accounted with `sink.recordJudgeRequest`. Budget:
 * the worst case of each request (prompt + max tokens) is reserved before it is sent, so judging stops before it
 * would exceed `cfg.budgetUsd`. A fatal API error (bad key, unknown model) stops the batch and is thrown.
 */
export async function judgeItems(targets: JudgeTarget[], o: JudgeRunOptions): Promise<JudgeOutcome> {
  const { sink, prompt, ...rest } = o;
  return rateWithRetries(
    targets.map((t) => ({ id: t.id, prompt: renderJudgePrompt(prompt, t, o.lang), rated: t.judgeScore !== undefined && t.judgeScore !== null })),
    {
      ...rest,
      format: judgeFormat,
      sink: {
        rated: (id, v) => sink.setJudge(id, v.score, v.reason),
        unrated: (id, reason) => sink.setJudge(id, null, reason),
        recordRequest: ({ id, ...r }) => sink.recordJudgeRequest({ itemId: id, ...r }),
      },
    },
  );
}

const judgeFormat: RatingFormat<{ score: number; reason: string }> = {
  parse: (text) => {
    const a = parseJudgeAnswer(text);
    return a.ok ? { ok: true, value: { score: a.score, reason: a.reason } } : a;
  },
  repair: REPAIR,
};

/** One rating job: a task and the conversation so far (a repair adds the bad answer and the request to fix it). */
interface RatingJob {
  task: RatingTask;
  attempt: number;
  lastError: string;
}

/** The judge's method for any rating format, on the request loop: repair retries, recording, stop reasons (see judgeItems). */
export async function rateWithRetries<T>(tasks: RatingTask[], o: RatingRunOptions<T>): Promise<JudgeOutcome> {
  const { cfg, client, sink, format } = o;
  const noun = o.noun ?? 'samples';
  const budget = new BudgetTracker(cfg.budgetUsd ?? undefined, 0);
  let scored = 0;
  let failed = 0;
  let done = 0;
  const progress = () => o.onProgress?.({ done, total: tasks.length, scored, failed, costUsd: budget.spentUsd });
  const finish = (job: RatingJob, unrated: string | null) => {
    // A rating is replaced only by a new valid one: a failed re-judge leaves the one there.
    if (unrated !== null && !job.task.rated) sink.unrated(job.task.id, unrated);
    if (unrated === null) scored++;
    else failed++;
    done++;
    progress();
  };
  let nextTask = 0;
  const rating: RequestMethod<RatingJob> = {
    next: () => (nextTask < tasks.length ? { task: tasks[nextTask++]!, attempt: 0, lastError: '' } : 'done'),
    build: (job) => ({ model: client.model, messages: [{ role: 'user', content: job.task.prompt }], temperature: cfg.temperature, maxTokens: cfg.maxTokens }),
    ingest: (job, result, req) => {
      const answer = format.parse(result.text);
      sink.recordRequest({ id: job.task.id, promptTokens: result.promptTokens, completionTokens: result.completionTokens, costUsd: result.costUsd, raw: result.text, ok: answer.ok, ...via(client, result.model, result.endpoint) });
      if (answer.ok) {
        sink.rated(job.task.id, answer.value);
        finish(job, null);
        return;
      }
      job.lastError = answer.error;
      if (job.attempt++ >= cfg.parseRetries) {
        finish(job, `unparseable: ${job.lastError}`);
        return;
      }
      return { ...req, messages: [...req.messages, { role: 'assistant', content: result.text }, { role: 'user', content: format.repair[o.lang] }] };
    },
    failed: (job, f) => {
      if (f.kind !== 'failed') return;
      sink.recordRequest({ id: job.task.id, promptTokens: 0, completionTokens: 0, costUsd: 0, raw: f.message, ok: false, ...via(client) });
      finish(job, `failed: ${f.message}`);
    },
  };
  const loop = new RequestLoop({ send: (req) => client.complete(req), concurrency: cfg.concurrency, budget, prices: o.prices, signal: o.signal });
  const outcome = await loop.run(rating);
  const notJudged = tasks.length - done;
  const spent = `$${budget.spentUsd.toFixed(4)}`;
  const finalStop: JudgeOutcome['stop'] = outcome.stop === 'done' || notJudged === 0 ? 'done' : outcome.stop;
  const message =
    finalStop === 'done'
      ? `judged ${done} ${noun}: ${scored} scored, ${failed} failed or unparseable; spent ${spent}`
      : finalStop === 'budget'
        ? `stopped before exceeding the judge budget of $${cfg.budgetUsd}: ${scored} scored, ${notJudged} not judged; spent ${spent}`
        : finalStop === 'endpoint-down'
          ? `${outcome.endpointDown!.message}; ${notJudged} ${noun} not judged — rerun the same command to judge them`
          : `interrupted: ${scored} scored, ${notJudged} not judged — rerun the same command to judge them`;
  return { scored, failed, notJudged, costUsd: budget.spentUsd, stop: finalStop, message };
}

/** The model (as the answer names it, else the one asked) and endpoint a judge request is recorded with. */
function via(client: JudgeClient, answered?: string, endpoint?: string): { model: string; endpoint?: string } {
  const where = endpoint ?? (client.baseURL !== undefined ? endpointOf(client.baseURL) : undefined);
  return { model: answered ?? client.model, ...(where !== undefined ? { endpoint: where } : {}) };
}
