import type { GenerationConfig } from '../config/generation.js';
import type { Prices } from '../config/generation.js';
import { ApiError } from '../errors.js';
import type { TransportState } from '../events.js';
import type { EndpointPool } from '../llm/endpoint-pool.js';
import { poolEndpoints, poolFromConfig } from '../llm/pool-from-config.js';
import type { LoopSender } from '../llm/request-loop.js';
import { CompletionsNotServedError } from './methods/completions-not-served.js';

/**
 * The run's endpoints as the request loop's sender: one pool per model, since a request may name another model on
 * the same endpoints (Magpie's --response-model); the run's own model's pool is made first and sets the concurrency.
 */
export function modelPools(
  g: GenerationConfig,
  keys: Parameters<typeof poolEndpoints>[2],
  o: { prices: Prices; onTransport: (t: TransportState) => void; onWarning: (message: string) => void },
): { pool: EndpointPool; send: LoopSender } {
  const pool = poolFromConfig(g, poolEndpoints(g, g, keys), o);
  const pools = new Map<string, EndpointPool>([[g.model, pool]]);
  const poolFor = (model: string): EndpointPool => {
    let p = pools.get(model);
    if (!p) {
      const where = { ...g, endpoints: g.endpoints.map((e) => ({ ...e, model })) };
      pools.set(model, (p = poolFromConfig(where, poolEndpoints(where, { ...g, model }, keys), o)));
    }
    return p;
  };
  const send: LoopSender = async (req, onRoute) => {
    let endpoint = '';
    try {
      return await poolFor(req.model).complete(req, (e, m) => onRoute((endpoint = e), m));
    } catch (err) {
      // Said once, plainly: a chat-only server has no completions endpoint, and retrying elsewhere will not change that.
      if (req.prompt !== undefined && err instanceof ApiError && err.status === 404) throw new CompletionsNotServedError(endpoint || (pool.status()[0]?.endpoint ?? 'the endpoint'));
      throw err;
    }
  };
  return { pool, send };
}
