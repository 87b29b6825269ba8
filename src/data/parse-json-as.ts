import type { z } from 'zod';

/**
 * JSON text checked against a schema, for files the tool wrote itself or a model directory holds: a cast would let
 * a wrong shape through to fail later with an unrelated message. Throws a plain Error naming the first bad field;
 * callers wrap it in the error that names their file and what to do.
 */
export function parseJsonAs<S extends z.ZodType>(text: string, schema: S): z.output<S> {
  const parsed = schema.safeParse(JSON.parse(text));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  throw new Error(`${field}: ${issue?.message ?? 'unexpected shape'}`);
}
