import type { Prices } from '../config/generation.js';
import { ApiError } from '../errors.js';
import type { EndpointProgress, TransportState } from '../events.js';
import { ChatClient, EndpointUnreachableError, type ChatRequest, type ChatResult } from './chat-client.js';
import { EndpointDownError, EndpointGate, type EndpointGateOptions } from './endpoint-gate.js';
import type { EmbeddingsResult } from './embeddings-request.js';

export interface PoolEndpointOptions {
  /** undefined: $OPENAI_BASE_URL, else the OpenAI API (as the SDK does). */
  baseURL: string | undefined;
  model: string;
  /** Held in memory only. */
  apiKey: string | undefined;
  weight: number;
  concurrency: number;
}

export interface EndpointPoolOptions {
  gate: Omit<EndpointGateOptions, 'onState'>;
  timeoutMs: number;
  maxRetries: number;
  prices: Prices;
  /** Transport state of one endpoint (its retries, pauses, recovery). */
  onTransport: (endpoint: string, s: TransportState) => void;
  /**
   * An endpoint refused a request in a way that will not change (a wrong key, a model it does not serve) and was
   * left out of the run, the others taking its requests: heard once per endpoint, never for the last one left (that
   * refusal is thrown). The error's message and hint are redacted of the endpoint's key.
   */
  onRefused?: (endpoint: string, err: ApiError) => void;
  random?: () => number;
}

/** One endpoint's share of the run, for the progress line and the generate screen (the event adds its rate). */
export type EndpointStatus = Omit<EndpointProgress, 'requestsPerSec'>;

interface Member {
  name: string;
  client: ChatClient;
  gate: EndpointGate;
  weight: number;
  concurrency: number;
  inFlight: number;
  ok: number;
  failed: number;
  /** Out of the run: dead stayed down through every pause; refused answered a refusal (see isRefusal). */
  out: 'dead' | 'refused' | null;
  running: Set<AbortController>;
}

/** Why a request was taken off a down endpoint: it is sent again elsewhere, not counted as failed. */
const rerouted = Symbol('rerouted to another endpoint');

/**
 * The statuses classifyFailure calls fatal that say something about this endpoint rather than the run: a key it
 * does not take, a model it does not serve or let this key use, a request shape it does not accept. Another
 * endpoint may well answer the same request.
 */
const refusalStatuses: ReadonlySet<number> = new Set([400, 401, 403, 404, 422]);

function isRefusal(err: unknown): err is ApiError {
  // An endpoint that never answered and cannot be reached (a wrong URL, a server not started) is one too.
  return err instanceof EndpointUnreachableError || (err instanceof ApiError && err.status !== undefined && refusalStatuses.has(err.status));
}

/**
 * Several OpenAI-compatible endpoints serving one run. Each has its own ChatClient and EndpointGate, so one
 * endpoint's rate limit or outage never pauses the others. A request goes to the live endpoint with free capacity
 * whose load relative to its weight is lowest. When an endpoint goes down, the requests waiting on it are moved
 * to the others and only one stays, to probe it once its pause is over; an endpoint that stays down through every
 * pause is dropped, and the run stops (resumably) only when every endpoint is. An endpoint that refuses a request
 * (isRefusal) is dropped at once, its requests sent elsewhere, unless it is the last one left: then the refusal
 * stops the run, as it does with one endpoint.
 */
export class EndpointPool {
  private readonly members: Member[];
  private readonly onRefused: ((endpoint: string, err: ApiError) => void) | undefined;
  private waiters: Array<() => void> = [];

  constructor(endpoints: PoolEndpointOptions[], opts: EndpointPoolOptions) {
    if (endpoints.length === 0) throw new TypeError('EndpointPool: at least one endpoint is needed');
    this.onRefused = opts.onRefused;
    this.members = endpoints.map((e) => {
      let member: Member | undefined;
      const onState = (s: TransportState) => {
        if (member) {
          opts.onTransport(member.name, s);
          if (s.state === 'paused') this.drain(member);
          this.changed();
        }
      };
      const gate = new EndpointGate({ ...opts.gate, onState });
      const client = new ChatClient({
        model: e.model,
        baseURL: e.baseURL,
        apiKey: e.apiKey,
        timeoutMs: opts.timeoutMs,
        maxRetries: opts.maxRetries,
        prices: opts.prices,
        gate,
        onTransport: onState,
        ...(opts.random ? { random: opts.random } : {}),
      });
      // The name is what requests record and screens show: never a user:password or a query string.
      member = { name: client.endpoint, client, gate, weight: e.weight, concurrency: e.concurrency, inFlight: 0, ok: 0, failed: 0, out: null, running: new Set() };
      return member;
    });
  }

  /** Requests the pool can have in flight at once. */
  get capacity(): number {
    return this.members.reduce((n, m) => n + m.concurrency, 0);
  }

  get size(): number {
    return this.members.length;
  }

  status(): EndpointStatus[] {
    return this.members.map((m) => ({ endpoint: m.name, model: m.client.model, state: m.out ?? (m.gate.isDown ? 'down' : 'up'), inFlight: m.inFlight, ok: m.ok, failed: m.failed }));
  }

  /**
   * Sends one chat request to the pool. `onRoute` hears each endpoint the request is sent to (a request moved off
   * a down or refusing endpoint is heard again). Throws what the last endpoint threw; EndpointDownError once every
   * endpoint is down.
   */
  async complete(req: ChatRequest, onRoute?: (endpoint: string, model: string) => void): Promise<ChatResult & { endpoint: string; model: string }> {
    return this.route(req.signal, onRoute, async (client, signal) => {
      const result = await client.complete({ ...req, signal });
      // The model as the answer names it (a server may resolve an alias), else the one asked for.
      return { ...result, endpoint: client.endpoint, model: result.model ?? client.model };
    });
  }

  /** Sends one /v1/embeddings request (each endpoint's model) to the pool, routed, moved and refused as `complete`. */
  async embed(texts: readonly string[], signal: AbortSignal | undefined, onRoute?: (endpoint: string, model: string) => void): Promise<EmbeddingsResult & { endpoint: string; model: string }> {
    return this.route(signal, onRoute, async (client, s) => ({ ...(await client.embed(texts, s)), endpoint: client.endpoint, model: client.model }));
  }

  /** Sends one request through the member `acquire` picks, moving it when that member goes down or refuses. */
  private async route<T>(signal: AbortSignal | undefined, onRoute: ((endpoint: string, model: string) => void) | undefined, call: (client: ChatClient, signal: AbortSignal) => Promise<T>): Promise<T> {
    const req = { signal };
    for (;;) {
      const m = await this.acquire(req.signal);
      onRoute?.(m.name, m.client.model);
      const controller = new AbortController();
      const onAbort = () => controller.abort(req.signal!.reason);
      req.signal?.addEventListener('abort', onAbort, { once: true });
      m.running.add(controller);
      try {
        const result = await call(m.client, controller.signal);
        m.ok++;
        return result;
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason;
        if (controller.signal.aborted && controller.signal.reason === rerouted) continue;
        if (err instanceof EndpointDownError) {
          m.out = 'dead';
          this.drain(m, 0);
          if (this.members.every((x) => x.out)) throw err;
          continue;
        }
        if (isRefusal(err) && this.members.some((x) => x !== m && !x.out)) {
          // One report per endpoint; its requests still on their way were drained, and come back as rerouted.
          if (m.out === null) {
            m.out = 'refused';
            this.drain(m, 0);
            this.onRefused?.(m.name, err);
          }
          continue;
        }
        m.failed++;
        throw err;
      } finally {
        req.signal?.removeEventListener('abort', onAbort);
        m.running.delete(controller);
        m.inFlight--;
        this.changed();
      }
    }
  }

  /** The endpoint for the next request: waits while every live endpoint is full (or down and being probed). */
  private async acquire(signal: AbortSignal | undefined): Promise<Member> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const m = this.pick();
      if (m) {
        m.inFlight++;
        return m;
      }
      if (this.members.every((x) => x.out)) {
        throw new EndpointDownError(
          this.members.some((x) => x.out === 'refused') ? 'the endpoints of the pool that did not refuse the run stayed down through all their pauses' : 'every endpoint of the pool stayed down through all its pauses',
        );
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiters = this.waiters.filter((w) => w !== wake);
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    }
  }

  private pick(): Member | null {
    let best: Member | null = null;
    let bestLoad = Infinity;
    for (const m of this.members) {
      if (m.out || m.inFlight >= m.concurrency) continue;
      if (m.gate.isDown) continue;
      const load = (m.inFlight + 1) / m.weight;
      if (load < bestLoad) {
        best = m;
        bestLoad = load;
      }
    }
    if (best) return best;
    // Every live endpoint is full or down: a down one with nothing in flight gets a request, which probes it.
    return this.members.find((m) => !m.out && m.gate.isDown && m.inFlight === 0) ?? null;
  }

  /** Moves requests off a down or refusing endpoint, keeping `keep` of them there as its probe (none when others can't take them). */
  private drain(m: Member, keep = 1): void {
    if (!this.members.some((x) => x !== m && !x.out)) return;
    let kept = 0;
    for (const c of m.running) {
      if (kept < keep) {
        kept++;
        continue;
      }
      c.abort(rerouted);
    }
  }

  private changed(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }
}
