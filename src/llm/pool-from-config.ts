import type { GenerationConfig, Prices } from '../config/generation.js';
import { ConfigError, type ApiError } from '../errors.js';
import type { TransportState } from '../events.js';
import { endpointOf } from './endpoint-of.js';
import { EndpointPool, type PoolEndpointOptions } from './endpoint-pool.js';

export interface PoolKeys {
  /** The key of generation.apiKeyEnv, when the caller has read it already; held in memory only. */
  apiKey?: string | undefined;
  /** The key in an environment variable an endpoint names (apiKeyEnv); held in memory only. */
  apiKeyFor?: ((envName: string) => string | undefined) | undefined;
}

/** What an endpoint that names none of its own takes: the run's model and key variable, the command's concurrency. */
export interface EndpointDefaults {
  model: string;
  apiKeyEnv: string;
  concurrency: number;
}

/**
 * The endpoints requests go to: `where.endpoints`, or `where.baseUrl` alone (null: $OPENAI_BASE_URL, else the
 * OpenAI API). An endpoint without its own model, key variable or concurrency takes the defaults.
 */
export function poolEndpoints(where: Pick<GenerationConfig, 'endpoints' | 'baseUrl'>, defaults: EndpointDefaults, keys: PoolKeys): PoolEndpointOptions[] {
  const keyFor = (envName: string) => (envName === defaults.apiKeyEnv && keys.apiKey !== undefined ? keys.apiKey : keys.apiKeyFor?.(envName));
  if (where.endpoints.length === 0) return [{ baseURL: where.baseUrl ?? undefined, model: defaults.model, apiKey: keyFor(defaults.apiKeyEnv), weight: 1, concurrency: defaults.concurrency }];
  return where.endpoints.map((e) => ({
    baseURL: e.baseUrl,
    model: e.model ?? defaults.model,
    apiKey: keyFor(e.apiKeyEnv ?? defaults.apiKeyEnv),
    weight: e.weight,
    concurrency: e.concurrency ?? defaults.concurrency,
  }));
}

/**
 * The endpoints of a pool that serve `model`. None is a config error, raised before any request: sending the model's
 * requests to baseUrl (or api.openai.com) instead would send the data somewhere the user did not list.
 * @param what how the message names the model, e.g. `model "m"` or `the judge's model "m"`
 * @param hint what to do, besides adding an endpoint that serves it
 */
export function endpointsServing(all: PoolEndpointOptions[], model: string, what: string, hint: string): PoolEndpointOptions[] {
  const serving = all.filter((e) => e.model === model);
  if (serving.length > 0) return serving;
  const served = [...new Set(all.map((e) => `"${e.model}"`))].join(', ');
  throw new ConfigError([`no endpoint in generation.endpoints serves ${what} (they serve ${served})`], `add an endpoint with model: ${model} to generation.endpoints, ${hint}`);
}

/**
 * The warning for an endpoint of a pool that refused the run's requests (the pool carries on without it): the
 * endpoint, the server's words (redacted of its key by the client) and what to fix, naming the key's variable,
 * never its value.
 */
export function refusedEndpointMessage(g: Pick<GenerationConfig, 'endpoints' | 'apiKeyEnv'>, endpoint: string, err: ApiError): string {
  const keyEnv = g.endpoints.find((e) => endpointOf(e.baseUrl) === endpoint)?.apiKeyEnv ?? g.apiKeyEnv;
  const fix =
    err.status === 401
      ? `set $${keyEnv} to a key this endpoint accepts (or name another variable in its apiKeyEnv)`
      : err.status === 403
        ? `give it a key ($${keyEnv}) that may use this model, or another model`
        : err.status === 404
          ? 'check its model in generation.endpoints (default generation.model) and its baseUrl (usually ending in /v1)'
          : err.status === undefined
            ? 'check its baseUrl and that its server is running'
            : 'check its model and the sampling settings; the server said what it did not accept';
  // The client's message names the endpoint too ("MODEL at URL: why", "cannot reach URL: why"); once is enough.
  const why = err.message.replace(` at ${endpoint}: `, ': ').replace(`cannot reach ${endpoint}: `, 'cannot reach it: ');
  return `endpoint ${endpoint} left out of the run, the others carry on: ${why} — ${fix}, then rerun the same command to use it again`;
}

/** forge.yaml's transport settings a pool takes: its gates' pauses, the timeout and retries of a request. */
export type PoolSettings = Pick<GenerationConfig, 'pauseAfterFailures' | 'pauseSeconds' | 'maxPauses' | 'timeoutMs' | 'maxRetries' | 'endpoints' | 'apiKeyEnv'>;

export interface PoolFromConfigOptions {
  prices: Prices;
  /** The transport state of a one-endpoint pool (its state is the run's; a larger pool's shows per endpoint). */
  onTransport: (s: TransportState) => void;
  /** A warning for the user: an endpoint refused the run and was left out. */
  onWarning: (message: string) => void;
}

/** The pool of `endpoints` with forge.yaml's generation settings for its gates, timeouts and retries. */
export function poolFromConfig(g: PoolSettings, endpoints: PoolEndpointOptions[], o: PoolFromConfigOptions): EndpointPool {
  const pool: EndpointPool = new EndpointPool(endpoints, {
    gate: { pauseAfterFailures: g.pauseAfterFailures, pauseMs: g.pauseSeconds * 1000, maxPauses: g.maxPauses },
    timeoutMs: g.timeoutMs,
    maxRetries: g.maxRetries,
    prices: o.prices,
    onTransport: (_endpoint, transport) => {
      if (pool.size === 1) o.onTransport(transport);
    },
    onRefused: (endpoint, err) => o.onWarning(refusedEndpointMessage(g, endpoint, err)),
  });
  return pool;
}
