import { ApiError } from '../../errors.js';

/** Magpie's completions endpoint answered 404: the one fix is a server that serves /v1/completions. */
export class CompletionsNotServedError extends ApiError {
  constructor(endpoint: string) {
    super(`${endpoint}/completions answered 404: Magpie needs /v1/completions (served by vLLM, llama.cpp server and Ollama)`, 404, 'point --base-url at a server with a completions endpoint, or use --method self-instruct or evol');
    this.name = 'CompletionsNotServedError';
  }
}
