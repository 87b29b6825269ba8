import { z } from 'zod';
import { DataError } from '../errors.js';
import { completionSchema, type ChatMessage } from '../llm/chat-client.js';
import { tokenLimit } from '../llm/endpoint-of.js';

/**
 * The OpenAI batch file format (https://platform.openai.com/docs/api-reference/batch/request-input), which vLLM's
 * `run_batch` reads and writes too: one request per input line, one result per output line, matched by custom_id.
 */
export interface BatchRequestBody {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  top_p: number;
  /** vLLM and other servers. */
  max_tokens?: number;
  /** OpenAI's own endpoint: its reasoning models refuse max_tokens. */
  max_completion_tokens?: number;
  seed?: number;
}

/** custom_id of a request: the run's tag (so a file from another run is refused) and the request's id. */
export function customIdFor(runTag: string, requestId: number): string {
  return `${runTag}-${requestId}`;
}

export function requestIdFrom(runTag: string, customId: string): number | null {
  if (!customId.startsWith(`${runTag}-`)) return null;
  const n = Number(customId.slice(runTag.length + 1));
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/**
 * The body of one batch request. Through the Batch API at OpenAI (`endpoint` its base URL) the token limit is
 * `max_completion_tokens`, which its reasoning models require; a file for an offline engine (`endpoint` null) and
 * any other Batch API get `max_tokens`, which vLLM's run_batch reads.
 */
export function batchRequestBody(
  endpoint: string | null,
  r: { model: string; messages: ChatMessage[]; temperature: number; topP: number; maxTokens: number; seed: number | null },
): BatchRequestBody {
  return {
    model: r.model,
    messages: r.messages,
    temperature: r.temperature,
    top_p: r.topP,
    ...(endpoint === null ? { max_tokens: r.maxTokens } : tokenLimit(endpoint, r.maxTokens)),
    ...(r.seed !== null ? { seed: r.seed } : {}),
  };
}

export function batchInputLine(customId: string, body: BatchRequestBody): string {
  return JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body });
}

/** A raw completions request (Magpie's pre-query): vLLM's run_batch serves /v1/completions lines beside chat ones. */
export interface BatchCompletionBody extends Omit<BatchRequestBody, 'messages' | 'max_completion_tokens'> {
  prompt: string;
  stop: string[];
}

export function batchCompletionLine(customId: string, body: BatchCompletionBody): string {
  return JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/completions', body });
}

/** The body of a /v1/completions result: the text is the choice's own. */
const textCompletionSchema = z.object({
  choices: z.array(z.object({ text: z.string(), finish_reason: z.string().nullable().optional() })).min(1),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() }).nullable().optional(),
});

const outputLineSchema = z.object({
  custom_id: z.string(),
  response: z
    .object({ status_code: z.number().int(), body: z.unknown() })
    .passthrough()
    .nullable()
    .optional(),
  // Any value: OpenAI writes {code, message}; vLLM's run_batch a plain string (make_error_request_output), its
  // ErrorResponse nested ({error: {message, code}}) or, in older versions, flat with a numeric code.
  error: z.unknown().optional(),
});

const errorObjectSchema = z.object({ code: z.union([z.string(), z.number()]).nullable().optional(), message: z.string().nullable().optional() }).passthrough();

/** One line for a batch line's `error`, whatever its shape (see outputLineSchema). */
function errorMessage(error: unknown): string {
  if (typeof error === 'string') return error || 'error: no message';
  const nested = z.object({ error: errorObjectSchema }).safeParse(error);
  const e = errorObjectSchema.safeParse(nested.success ? nested.data.error : error);
  if (e.success && (e.data.message || e.data.code !== undefined)) return `${e.data.code ?? 'error'}: ${e.data.message || 'no message'}`;
  const text = JSON.stringify(error) ?? String(error);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

export type BatchOutcome =
  | { customId: string; ok: true; text: string; finishReason: string | null; promptTokens: number; completionTokens: number }
  | { customId: string; ok: false; error: string };

/**
 * Parses a batch output or error file. A line that is not a batch result at all is an error naming the file and
 * line (a truncated download, or the wrong file); a request that failed is an outcome with its error.
 */
export function parseBatchOutput(text: string, source: string): BatchOutcome[] {
  const out: BatchOutcome[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new DataError(`${source}:${i + 1}: not a JSON line`, 'pass the output file of the batch (one JSON object per line), complete and unedited');
    }
    const parsed = outputLineSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DataError(`${source}:${i + 1}: not a batch result (${issue?.path.join('.') || 'line'}: ${issue?.message})`, 'pass the output file of the batch, in the OpenAI batch output format');
    }
    const { custom_id: customId, response, error } = parsed.data;
    if (error !== undefined && error !== null) {
      out.push({ customId, ok: false, error: errorMessage(error) });
      continue;
    }
    if (!response) {
      out.push({ customId, ok: false, error: 'no response and no error in the batch result' });
      continue;
    }
    if (response.status_code < 200 || response.status_code >= 300) {
      const message = z.object({ error: z.object({ message: z.string() }).passthrough() }).safeParse(response.body);
      out.push({ customId, ok: false, error: `HTTP ${response.status_code}${message.success ? `: ${message.data.error.message}` : ''}` });
      continue;
    }
    const text = textCompletionSchema.safeParse(response.body);
    if (text.success) {
      const choice = text.data.choices[0]!;
      out.push({ customId, ok: true, text: choice.text, finishReason: choice.finish_reason ?? null, promptTokens: text.data.usage?.prompt_tokens ?? 0, completionTokens: text.data.usage?.completion_tokens ?? 0 });
      continue;
    }
    const body = completionSchema.safeParse(response.body);
    if (!body.success) {
      out.push({ customId, ok: false, error: `the result is not a chat completion (${body.error.issues[0]?.path.join('.') || 'body'}: ${body.error.issues[0]?.message})` });
      continue;
    }
    const choice = body.data.choices[0]!;
    out.push({
      customId,
      ok: true,
      text: choice.message.content ?? '',
      finishReason: choice.finish_reason ?? null,
      promptTokens: body.data.usage?.prompt_tokens ?? 0,
      completionTokens: body.data.usage?.completion_tokens ?? 0,
    });
  }
  return out;
}
