/** What a secret is replaced with in every message, event and stored row. */
export const REDACTED = '[redacted]';

export type Redact = (text: string) => string;

// Shorter values are not redacted as such: a local server's dummy key ("x", "none") would otherwise blank out
// ordinary words of every message. Real keys are far longer, and their shapes are caught below anyway.
const MIN_SECRET_LENGTH = 6;

/**
 * Servers echo keys back ("Incorrect API key provided: sk-…", a reflected Authorization header), so whatever they
 * say passes through this before anyone prints or stores it: the secret values in play, anything after `Bearer`,
 * and `sk-…`-shaped tokens (OpenAI, DeepSeek, OpenRouter keys; also their masked forms such as `sk-proj-****abcd`).
 */
export function createRedactor(secrets: ReadonlyArray<string | undefined>): Redact {
  const values = createValueRedactor(secrets);
  return (text: string) =>
    values(text)
      .replace(/\b(Bearer)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`)
      .replace(/\bsk-[A-Za-z0-9_*-]{6,}/g, REDACTED);
}

/**
 * Only the secret values themselves: for what a model *answers*, where `Bearer …` or `sk-…` may be legitimate text
 * of a sample (an API tutorial) but the key in play never is.
 */
export function createValueRedactor(secrets: ReadonlyArray<string | undefined>): Redact {
  const values = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
  if (!values.length) return (text) => text;
  const exact = new RegExp(values.map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(exact, REDACTED);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
