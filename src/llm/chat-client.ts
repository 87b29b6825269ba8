import OpenAI from 'openai';
import { z } from 'zod';
import { ApiError, EndpointUnreachableError, ForgeError } from '../errors.js';
// Defined with the error family so that it survives a worker boundary as itself (reviveError); exported here as before.
export { EndpointUnreachableError };
import type { TransportState } from '../events.js';
import type { Prices } from '../config/generation.js';
import { EndpointGate } from './endpoint-gate.js';
import { backoffMs, classifyFailure, InvalidResponseError, sleep } from './retry-policy.js';
import { costOf } from './budget.js';
import { createRedactor, createValueRedactor, type Redact } from './redact.js';
import { endpointOf, tokenLimit } from './endpoint-of.js';
import { onceEmbeddings, type EmbeddingsResult } from './embeddings-request.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatClientOptions {
  /** Defaults to $OPENAI_BASE_URL, else the OpenAI API (as the SDK does). */
  baseURL?: string | undefined;
  /** Defaults to $OPENAI_API_KEY. Kept in memory only; never logged or stored. */
  apiKey?: string | undefined;
  model: string;
  /** Per-request timeout. Defaults to 120 s. */
  timeoutMs?: number;
  /** Retries of one request. Defaults to 6. */
  maxRetries?: number;
  /**
   * Attempts of one request after which an endpoint that has never answered and cannot be reached (connection
   * refused, unknown host, TLS failure) is given up on with EndpointUnreachableError. Defaults to 3.
   */
  unreachableAttempts?: number;
  prices?: Prices;
  /** Shared circuit breaker; one is made if absent. */
  gate?: EndpointGate;
  onTransport?: (s: TransportState) => void;
  /** Injectable for tests (deterministic jitter). */
  random?: () => number;
}

export interface ChatRequest {
  messages: ChatMessage[];
  /**
   * A raw prompt for /v1/completions instead of the chat messages (Magpie sends a chat template's pre-query this
   * way); `messages` is then ignored. Defaults to none: a chat request.
   */
  prompt?: string;
  /** Strings the server stops at (completions requests). Defaults to none. */
  stop?: string[];
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface ChatResult {
  text: string;
  finishReason: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** The model that answered, as the response names it (servers may resolve an alias); else the one requested. ChatClient always sets it. */
  model?: string;
}

/** The part of a chat completion we rely on; anything else the server sends is ignored. Batch output lines carry the same. */
export const completionSchema = z.object({
  model: z.string().nullable().optional(),
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable().optional() }).passthrough(),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
  usage: z
    .object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() })
    .nullable()
    .optional(),
});


/** The part of a text completion (/v1/completions) we rely on. */
export const textCompletionSchema = z.object({
  model: z.string().nullable().optional(),
  choices: z.array(z.object({ text: z.string().nullable().optional(), finish_reason: z.string().nullable().optional() })).min(1),
  usage: completionSchema.shape.usage,
});

/**
 * One chat-completions client for generation and judging: our own retry loop (the SDK's is off) so that every
 * retry goes through the shared EndpointGate and is reported as a transport event.
 */
export class ChatClient {
  readonly model: string;
  readonly baseURL: string;
  /** The base URL as messages may show it (endpointOf). */
  readonly endpoint: string;
  readonly gate: EndpointGate;
  private readonly sdk: OpenAI;
  private readonly maxRetries: number;
  private readonly prices: Prices | undefined;
  private readonly onTransport: ((s: TransportState) => void) | undefined;
  private readonly random: () => number;
  private readonly unreachableAttempts: number;
  /** Every message built from a failure goes through this, so nothing downstream ever sees the key. */
  readonly redact: Redact;
  private readonly redactAnswer: Redact;

  constructor(opts: ChatClientOptions) {
    this.model = opts.model;
    this.maxRetries = opts.maxRetries ?? 6;
    this.unreachableAttempts = opts.unreachableAttempts ?? 3;
    // A password or query value in the URL is as secret as the key (config refuses a user:password; the API may not).
    const secrets = [opts.apiKey, ...urlSecrets(opts.baseURL)];
    this.redact = createRedactor(secrets);
    this.redactAnswer = createValueRedactor(secrets);
    this.prices = opts.prices;
    this.onTransport = opts.onTransport;
    this.random = opts.random ?? Math.random;
    this.gate =
      opts.gate ??
      new EndpointGate({ pauseAfterFailures: 5, pauseMs: 30_000, maxPauses: 8, ...(opts.onTransport ? { onState: opts.onTransport } : {}) });
    // Local servers (vLLM, llama.cpp, Ollama) take any key; the SDK refuses to start without one.
    this.sdk = new OpenAI({
      apiKey: opts.apiKey ?? 'sk-no-key-set',
      ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
      timeout: opts.timeoutMs ?? 120_000,
      maxRetries: 0,
    });
    this.baseURL = this.sdk.baseURL;
    // Messages name the endpoint without a user:password part or a query, where some servers take the key.
    this.endpoint = endpointOf(this.baseURL);
  }

  /** Throws ApiError (fatal: bad key, unknown model…) or EndpointDownError; an abort rejects with the signal's reason. */
  async complete(req: ChatRequest): Promise<ChatResult> {
    return this.retrying(req.signal, () => this.once(req));
  }

  /**
   * One /v1/embeddings request for `texts` with this client's model, retried, gated and redacted as `complete` is.
   * Vectors come back in the order of `texts`.
   */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<EmbeddingsResult> {
    return this.retrying(signal, () => onceEmbeddings(this.sdk, this.model, texts, signal, this.prices));
  }

  /** The one retry loop of a request: the gate before each attempt, backoff between them, fatal answers thrown. */
  private async retrying<T>(signal: AbortSignal | undefined, once: () => Promise<T>): Promise<T> {
    const req = { signal };
    for (let attempt = 0; ; attempt++) {
      await this.gate.wait(req.signal);
      try {
        const result = await once();
        this.gate.success();
        return result;
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason;
        const verdict = classifyFailure(err, this.endpoint);
        const reason = this.redact(verdict.reason);
        if (verdict.kind === 'fatal') throw new ApiError(`${this.model} at ${this.endpoint}: ${reason}`, verdict.status, this.redact(verdict.hint));
        if (verdict.unreachable && !this.gate.hasSucceeded) {
          // Never answered and cannot be reached: a wrong URL or a server not started, not worth the gate's pauses.
          if (attempt + 1 >= Math.min(this.unreachableAttempts, this.maxRetries + 1)) {
            throw new EndpointUnreachableError(`cannot reach ${this.endpoint}: ${reason}; gave up after ${attempt + 1} attempts`, verdict.hint ? `${verdict.hint}; then run the same command again` : undefined);
          }
        } else {
          this.gate.failure(reason);
        }
        if (attempt >= this.maxRetries) {
          throw new RetriesExhaustedError(`gave up after ${attempt + 1} attempts: ${reason}`);
        }
        const waitMs = verdict.waitHintMs ?? backoffMs(attempt, this.random);
        if (verdict.waitHintMs !== null) this.gate.delayAll(verdict.waitHintMs);
        this.onTransport?.({ state: 'backoff', reason, waitMs, attempt: attempt + 1 });
        await sleep(waitMs, req.signal);
      }
    }
  }

  private async once(req: ChatRequest): Promise<ChatResult> {
    if (req.prompt !== undefined) return this.onceText(req, req.prompt);
    const raw: unknown = await this.sdk.chat.completions.create(chatBody(this.baseURL, this.model, req), req.signal ? { signal: req.signal } : {});
    const parsed = completionSchema.safeParse(raw);
    if (!parsed.success) {
      throw new InvalidResponseError(`the endpoint answered something that is not a chat completion (${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message})`);
    }
    const choice = parsed.data.choices[0]!;
    const promptTokens = parsed.data.usage?.prompt_tokens ?? 0;
    const completionTokens = parsed.data.usage?.completion_tokens ?? 0;
    return {
      // A server that reflects the request (a debug echo, a prompt-injected model) must not get the key into run.db.
      text: this.redactAnswer(choice.message.content ?? ''),
      finishReason: choice.finish_reason ?? null,
      promptTokens,
      completionTokens,
      costUsd: costOf(this.prices, this.model, promptTokens, completionTokens),
      model: parsed.data.model || this.model,
    };
  }

  private async onceText(req: ChatRequest, prompt: string): Promise<ChatResult> {
    const raw: unknown = await this.sdk.completions.create(
      {
        model: this.model,
        prompt,
        ...(req.stop && req.stop.length > 0 ? { stop: req.stop } : {}),
        ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
        ...(req.topP !== undefined ? { top_p: req.topP } : {}),
        ...(req.maxTokens !== undefined ? { max_tokens: req.maxTokens } : {}),
        ...(req.seed !== undefined ? { seed: req.seed } : {}),
      },
      req.signal ? { signal: req.signal } : {},
    );
    const parsed = textCompletionSchema.safeParse(raw);
    if (!parsed.success) {
      throw new InvalidResponseError(`the endpoint answered something that is not a text completion (${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message})`);
    }
    const choice = parsed.data.choices[0]!;
    const promptTokens = parsed.data.usage?.prompt_tokens ?? 0;
    const completionTokens = parsed.data.usage?.completion_tokens ?? 0;
    return {
      text: this.redactAnswer(choice.text ?? ''),
      finishReason: choice.finish_reason ?? null,
      promptTokens,
      completionTokens,
      costUsd: costOf(this.prices, this.model, promptTokens, completionTokens),
      model: parsed.data.model || this.model,
    };
  }
}

/**
 * The body of one chat request: the token limit as `max_completion_tokens` at OpenAI's own API (its reasoning models
 * refuse `max_tokens`), as `max_tokens` everywhere else (vLLM, llama.cpp, Ollama read that one).
 */
export function chatBody(baseURL: string, model: string, req: ChatRequest): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  return {
    model,
    messages: req.messages,
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.topP !== undefined ? { top_p: req.topP } : {}),
    ...(req.maxTokens !== undefined ? tokenLimit(baseURL, req.maxTokens) : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
  };
}

/** One request failed every retry; the run goes on (the gate decides whether the endpoint as a whole is down). */
export class RetriesExhaustedError extends ForgeError {
  constructor(message: string) {
    super('api', message);
    this.name = 'RetriesExhaustedError';
  }
}

function urlSecrets(baseURL: string | undefined): string[] {
  if (!baseURL) return [];
  try {
    const u = new URL(baseURL);
    return [decodeURIComponent(u.username), decodeURIComponent(u.password), u.username, u.password, ...[...u.searchParams.values()]].filter((v) => v !== '');
  } catch {
    return [];
  }
}
