/** The base URL as recorded with each request: no user:password part, no query (some servers put a key there). */
export function endpointOf(baseURL: string): string {
  try {
    const u = new URL(baseURL);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return baseURL.replace(/[?#].*$/, '');
  }
}

/**
 * Whether a base URL is OpenAI's own API (what the SDK uses when none is set): the one that wants
 * max_completion_tokens, which its reasoning models require, where vLLM and the others read max_tokens.
 */
export function isOpenAiEndpoint(baseURL: string): boolean {
  try {
    return new URL(baseURL).hostname === 'api.openai.com';
  } catch {
    return false;
  }
}

/** The request's token limit under the name its endpoint reads (see isOpenAiEndpoint). */
export function tokenLimit(baseURL: string, maxTokens: number): { max_tokens: number } | { max_completion_tokens: number } {
  return isOpenAiEndpoint(baseURL) ? { max_completion_tokens: maxTokens } : { max_tokens: maxTokens };
}
