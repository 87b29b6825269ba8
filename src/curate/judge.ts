import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { promptsDir } from '../paths.js';
import type { Prices } from '../config/generation.js';
import type { ForgeConfig } from '../config/schema.js';
import type { TransportState } from '../events.js';
import { RetriesExhaustedError, type ChatClient, type ChatRequest, type ChatResult } from '../llm/chat-client.js';
import { chatClientFromConfig } from '../llm/client-from-config.js';
import { BudgetTracker, costOf } from '../llm/budget.js';
import { EndpointDownError } from '../llm/endpoint-gate.js';
import type { JudgeConfig } from './config.js';

/** LLM-as-judge (as AlpaGasus: rate each sample 0–5 for accuracy and helpfulness, keep those above a bar). */

export interface JudgePrompt {
  file: string;
  body: string;
}

const PLACEHOLDERS = new Set(['instruction', 'input', 'output']);

/** "judge" → the bundled prompts/judge.LANG.md; anything else is the path of a template file. */
export function loadJudgePrompt(name: string, lang: 'en' | 'zh'): JudgePrompt {
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

export function renderJudgePrompt(p: JudgePrompt, item: { instruction: string; input: string; output: string }, lang: 'en' | 'zh'): string {
  const values: Record<string, string> = { instruction: item.instruction, input: item.input.trim() === '' ? (lang === 'zh' ? '（无）' : '(none)') : item.input, output: item.output };
  // One pass, so text inside a sample that looks like a placeholder is never substituted.
  return p.body.replace(/\{\{(instruction|input|output)\}\}/g, (_, k: string) => values[k]!);
}

const scoreSchema = z.union([z.number(), z.string().regex(/^\s*\d+(?:\.\d+)?\s*$/).transform(Number)]).pipe(z.number().min(0).max(5));
const answerSchema = z.object({ score: scoreSchema, reason: z.string().default('') });

export type JudgeAnswer = { ok: true; score: number; reason: string } | { ok: false; error: string };

/** The judge's JSON, tolerating code fences and text around it; a score outside 0–5 is not an answer. */
export function parseJudgeAnswer(text: string): JudgeAnswer {
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
    const r = answerSchema.safeParse(data);
    if (r.success) return { ok: true, score: r.data.score, reason: r.data.reason.trim() };
    error = `expected {"score": 0-5, "reason": "…"} (${r.error.issues[0]?.path.join('.') || 'object'}: ${r.error.issues[0]?.message})`;
  }
  return { ok: false, error };
}

const REPAIR = {
  en: 'Your answer could not be read. Reply with only a JSON object: {"score": <number from 0 to 5>, "reason": "<one sentence>"}',
  zh: '无法解析你的回答。请只回复一个 JSON 对象：{"score": <0 到 5 之间的数字>, "reason": "<一句话理由>"}',
};

export interface JudgeClient {
  readonly model: string;
  complete(req: ChatRequest): Promise<ChatResult>;
}

/**
 * The judge's client: judge.model (else generation.model) with generation's timeout, retries and pauses, the same
 * settings and circuit breaker as `generate` (a judge that ignored them hammered a failing endpoint).
 */
export function createJudgeClient(
  forge: ForgeConfig,
  cfg: JudgeConfig,
  o: { apiKey: string | undefined; baseURL?: string | undefined; onTransport?: (s: TransportState) => void },
): ChatClient {
  return chatClientFromConfig(forge.generation, {
    apiKey: o.apiKey,
    prices: forge.prices,
    model: cfg.model ?? forge.generation.model,
    baseURL: o.baseURL,
    ...(o.onTransport ? { onTransport: o.onTransport } : {}),
  });
}

/** Where judgements go: RunStore for a run, an in-memory map for a file. */
export interface JudgeSink {
  setJudge(id: number, score: number | null, reason: string): void;
  recordJudgeRequest(r: { itemId: number; promptTokens: number; completionTokens: number; costUsd: number; raw: string; ok: boolean }): void;
}

export interface JudgeTarget {
  id: number;
  instruction: string;
  input: string;
  output: string;
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
  lang: 'en' | 'zh';
  sink: JudgeSink;
  prices?: Prices;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; scored: number; failed: number; costUsd: number }) => void;
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
  const { cfg, client, sink } = o;
  const budget = new BudgetTracker(cfg.budgetUsd ?? undefined, 0);
  const limit = pLimit(cfg.concurrency);
  let stop: JudgeOutcome['stop'] | null = null;
  let fatal: unknown = null;
  let endpointDown: string | null = null;
  let scored = 0;
  let failed = 0;
  let done = 0;
  const progress = () => o.onProgress?.({ done, total: targets.length, scored, failed, costUsd: budget.spentUsd });
  // One listener on the caller's signal, one controller per request: the SDK and the backoff each listen on the
  // signal they are given, and `concurrency` requests on one shared signal set off MaxListenersExceededWarning.
  const requestControllers = new Set<AbortController>();
  const onAbort = () => {
    for (const c of requestControllers) c.abort(o.signal?.reason);
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });

  const judgeOne = async (t: JudgeTarget): Promise<void> => {
    if (stop !== null || o.signal?.aborted) return;
    const messages: ChatRequest['messages'] = [{ role: 'user', content: renderJudgePrompt(o.prompt, t, o.lang) }];
    let lastError = '';
    for (let attempt = 0; attempt <= cfg.parseRetries; attempt++) {
      const chars = messages.reduce((a, m) => a + m.content.length, 0);
      // Worst case: about 2 characters per token for the prompt (CJK is denser than English), all max tokens used.
      const reserve = costOf(o.prices, client.model, Math.ceil(chars / 2), cfg.maxTokens);
      if (budget.wouldExceed(reserve)) {
        stop ??= 'budget';
        return;
      }
      budget.reserve(reserve);
      let result: ChatResult;
      try {
        const controller = new AbortController();
        requestControllers.add(controller);
        try {
          result = await client.complete({ messages, temperature: cfg.temperature, maxTokens: cfg.maxTokens, signal: controller.signal });
        } finally {
          requestControllers.delete(controller);
        }
      } catch (err) {
        budget.settle(reserve, 0);
        if (o.signal?.aborted) {
          stop ??= 'interrupted';
          return;
        }
        if (err instanceof RetriesExhaustedError) {
          sink.recordJudgeRequest({ itemId: t.id, promptTokens: 0, completionTokens: 0, costUsd: 0, raw: err.message, ok: false });
          sink.setJudge(t.id, null, `failed: ${err.message}`);
          failed++;
          done++;
          progress();
          return;
        }
        if (err instanceof EndpointDownError) {
          endpointDown ??= err.message;
          stop ??= 'endpoint-down';
          return;
        }
        fatal ??= err;
        stop ??= 'interrupted';
        return;
      }
      budget.settle(reserve, result.costUsd);
      const answer = parseJudgeAnswer(result.text);
      sink.recordJudgeRequest({ itemId: t.id, promptTokens: result.promptTokens, completionTokens: result.completionTokens, costUsd: result.costUsd, raw: result.text, ok: answer.ok });
      if (answer.ok) {
        sink.setJudge(t.id, answer.score, answer.reason);
        scored++;
        done++;
        progress();
        return;
      }
      lastError = answer.error;
      messages.push({ role: 'assistant', content: result.text }, { role: 'user', content: REPAIR[o.lang] });
    }
    sink.setJudge(t.id, null, `unparseable: ${lastError}`);
    failed++;
    done++;
    progress();
  };

  try {
    await Promise.all(targets.map((t) => limit(() => judgeOne(t))));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (fatal !== null) throw fatal;
  // Set inside the workers; TypeScript cannot see that through the closures.
  const stopped = (o.signal?.aborted ? 'interrupted' : stop) as JudgeOutcome['stop'] | null;
  const notJudged = targets.length - done;
  const spent = `$${budget.spentUsd.toFixed(4)}`;
  const finalStop: JudgeOutcome['stop'] = stopped === null || notJudged === 0 ? 'done' : stopped;
  const message =
    finalStop === 'done'
      ? `judged ${done} samples: ${scored} scored, ${failed} failed or unparseable; spent ${spent}`
      : finalStop === 'budget'
        ? `stopped before exceeding the judge budget of $${cfg.budgetUsd}: ${scored} scored, ${notJudged} not judged; spent ${spent}`
        : finalStop === 'endpoint-down'
          ? `${endpointDown}; ${notJudged} samples not judged — rerun the same command to judge them`
          : `interrupted: ${scored} scored, ${notJudged} not judged — rerun the same command to judge them`;
  return { scored, failed, notJudged, costUsd: budget.spentUsd, stop: finalStop, message };
}
