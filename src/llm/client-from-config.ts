import type { GenerationConfig, Prices } from '../config/generation.js';
import type { TransportState } from '../events.js';
import { ChatClient } from './chat-client.js';
import { EndpointGate } from './endpoint-gate.js';

export interface ClientFromConfigOptions {
  /** From the environment variable named by generation.apiKeyEnv; held in memory only. */
  apiKey: string | undefined;
  prices: Prices;
  /** Defaults to generation.model (the judge passes its own). */
  model?: string | undefined;
  /** Defaults to generation.baseUrl, else $OPENAI_BASE_URL as the SDK reads it. */
  baseURL?: string | undefined;
  /** Both the gate's pauses and the client's backoffs. */
  onTransport?: (s: TransportState) => void;
  /** A gate shared with other clients of the same endpoint (respond's models); defaults to one of its own. */
  gate?: EndpointGate;
}

/**
 * The one way to build a chat client from forge.yaml's generation settings (timeout, retries, the gate's pauses),
 * so that `generate` and `curate --judge` treat a failing endpoint the same way.
 */
export function chatClientFromConfig(g: GenerationConfig, o: ClientFromConfigOptions): ChatClient {
  const gate =
    o.gate ??
    new EndpointGate({
      pauseAfterFailures: g.pauseAfterFailures,
      pauseMs: g.pauseSeconds * 1000,
      maxPauses: g.maxPauses,
      ...(o.onTransport ? { onState: o.onTransport } : {}),
    });
  return new ChatClient({
    model: o.model ?? g.model,
    baseURL: o.baseURL ?? g.baseUrl ?? undefined,
    apiKey: o.apiKey,
    timeoutMs: g.timeoutMs,
    maxRetries: g.maxRetries,
    prices: o.prices,
    gate,
    ...(o.onTransport ? { onTransport: o.onTransport } : {}),
  });
}
