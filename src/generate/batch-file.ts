import { z } from 'zod';
import { DataError } from '../errors.js';
import { completionSchema, type ChatMessage } from '../llm/chat-client.js';

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
  error: z.object({ code: z.string().nullable().optional(), message: z.string().nullable().optional() }).passthrough().nullable().optional(),
});

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
    if (error) {
      out.push({ customId, ok: false, error: `${error.code ?? 'error'}: ${error.message ?? 'no message'}` });
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
