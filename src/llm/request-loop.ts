import pLimit from 'p-limit';
import type { Prices } from '../config/generation.js';
import type { ChatRequest, ChatResult } from './chat-client.js';
import { RetriesExhaustedError } from './chat-client.js';
import { BudgetTracker, worstCaseUsd } from './budget.js';
import { EndpointDownError } from './endpoint-gate.js';
import { RequestAborts } from './request-aborts.js';
import { sleep } from './retry-policy.js';

/** One request as a method builds it: the chat request and the model it is priced (and routed) by. */
export type LoopRequest = Omit<ChatRequest, 'signal'> & { model: string };

/** An answer as the sender returns it: a pool names the endpoint and the model that answered; an embeddings request's has its vectors. */
export type LoopAnswer = ChatResult & { endpoint?: string; model?: string; vectors?: Float32Array[] };

/**
 * Sends one request with its own signal (a pool, a client, or a client per model); `onRoute` hears each endpoint it
 * is sent to (a pool may move it).
 */
export type LoopSender = (req: ChatRequest & { model: string }, onRoute: (endpoint: string, model: string) => void) => Promise<LoopAnswer>;

/**
 * How a request ended without an answer. `failed`: it failed every retry and the loop goes on; `stopped`: its error
 * stops the loop (an endpoint down for good, a refusal, a bug); `abandoned`: a stop cut it off before its answer.
 */
export type LoopFailure = { kind: 'failed' | 'stopped' | 'abandoned'; error: unknown; message: string };

/**
 * What a method passes to the loop: which job is next, how to build its request, and how to ingest its answer
 * (distilabel's format_input / format_output). Everything else (concurrency, the budget, aborts, retries through the
 * sender, stop reasons, progress) is the loop's.
 */
export interface RequestMethod<J> {
  /**
   * The next job, or 'wait' when none should go now (asked again whenever a request or an ingest ends), or 'done'
   * when none is left. Called only while a request slot is free.
   */
  next(): J | 'wait' | 'done';
  /** The job's request. */
  build(job: J): LoopRequest;
  /** The request is going out now (its budget reserved): record it. */
  sent?(job: J, req: LoopRequest): void;
  /** The sender picked this endpoint for it (again when a pool moves it). */
  routed?(job: J, endpoint: string, model: string): void;
  /**
   * One answer, after the request's slot is free. Returns a follow-up request for the same job (a repair, the next
   * step of a multi-turn method), or nothing when the job is done. Thrown errors stop the loop.
   */
  ingest(job: J, answer: LoopAnswer, req: LoopRequest): void | LoopRequest | Promise<void | LoopRequest>;
  /** The job's request ended without an answer (see LoopFailure). */
  failed?(job: J, f: LoopFailure): void;
}

export interface RequestLoopOptions {
  send: LoopSender;
  /** Requests in flight at once. */
  concurrency: number;
  /** Limit and spending so far; each request reserves its worst case (worstCaseUsd) before it goes out. */
  budget: BudgetTracker;
  prices: Prices | undefined;
  /** 'batch' prices requests at the Batch API's rates. Defaults to 'chat'. */
  via?: 'chat' | 'batch';
  signal?: AbortSignal | undefined;
  /** Read before each new job: while true, no new job starts (the UI's `p`). */
  pause?: { paused: boolean } | undefined;
  /** Heard every progressIntervalMs (default 1000) while the loop runs. */
  onProgress?: ((s: LoopStats) => void) | undefined;
  progressIntervalMs?: number | undefined;
}

/**
 * Why the loop stopped. done: the method had no more jobs; budget: the next request would have exceeded the budget
 * with nothing left in flight; interrupted: the caller's signal; endpoint-down: every endpoint stayed down.
 */
export type LoopStop = 'done' | 'budget' | 'interrupted' | 'endpoint-down';

export interface LoopOutcome {
  stop: LoopStop;
  /** The error that stopped the loop with 'endpoint-down'. */
  endpointDown: EndpointDownError | null;
}

/** The loop's counters, for progress events and for a method deciding whether to send now. */
export interface LoopStats {
  requestsDone: number;
  requestsFailed: number;
  inFlight: number;
  /** Answers being ingested (the slot is free, the method has not finished with them). */
  ingesting: number;
  promptTokens: number;
  completionTokens: number;
  spentUsd: number;
  elapsedSec: number;
  /** A request's recent round trip (ms, a moving average); null before the first answer. */
  latencyMs: number | null;
}

/**
 * The one request loop: a method's jobs are sent `concurrency` at a time through `send` (whose client retries and
 * whose gates pause), each with its own abort signal and its worst case reserved against the budget; answers are
 * ingested after their slot is freed, so a slow ingest never holds back the HTTP side.
 */
export class RequestLoop {
  readonly stats: LoopStats = { requestsDone: 0, requestsFailed: 0, inFlight: 0, ingesting: 0, promptTokens: 0, completionTokens: 0, spentUsd: 0, elapsedSec: 0, latencyMs: null };
  private readonly sentAt = new Map<object, number>();
  private readonly started = Date.now();
  private wake: () => void = () => {};

  constructor(private readonly o: RequestLoopOptions) {
    if (!(Number.isInteger(o.concurrency) && o.concurrency >= 1)) throw new TypeError(`RequestLoop: concurrency must be an integer >= 1, got ${o.concurrency}`);
  }

  /** When each request in flight left (performance.now(), oldest first). */
  inFlightSentAt(): number[] {
    return [...this.sentAt.values()];
  }

  /** Runs the method's jobs until it has none left or the loop stops; a fatal error is thrown once all have ended. */
  async run<J>(method: RequestMethod<J>): Promise<LoopOutcome> {
    const o = this.o;
    const s = this.stats;
    const aborts = new RequestAborts(o.signal);
    const limit = pLimit(o.concurrency);
    const running = new Set<Promise<void>>();
    let stop: LoopStop | null = null;
    let endpointDown: EndpointDownError | null = null;
    let fatal: unknown = null;
    // A job whose request did not fit the budget: it goes first once requests in flight have settled theirs.
    let held: { job: J; req: LoopRequest } | null = null;
    const nextChange = () => new Promise<void>((resolve) => (this.wake = resolve));
    const tick = o.onProgress ? setInterval(() => o.onProgress!(this.snapshot()), o.progressIntervalMs ?? 1000) : null;

    const halt = (err: unknown) => {
      if (err instanceof EndpointDownError) {
        endpointDown ??= err;
        stop ??= 'endpoint-down';
      } else fatal ??= err;
      // Nothing more goes out to an endpoint that refuses us; answers in flight are abandoned.
      aborts.abort(err);
    };

    /** Sends one request of a job (its budget reserved); then ingests the answer, following up as the method asks. */
    const send = async (job: J, req: LoopRequest, reserved: number): Promise<void> => {
      const slot = {};
      this.sentAt.set(slot, performance.now());
      let t0 = 0;
      let answer: LoopAnswer;
      try {
        method.sent?.(job, req);
        answer = await limit(() => {
          t0 = performance.now();
          return aborts.run((signal) => o.send({ ...req, signal }, (endpoint, model) => method.routed?.(job, endpoint, model)));
        });
      } catch (err) {
        o.budget.settle(reserved, 0);
        if (aborts.signal.aborted) {
          // Never answered: like a request cut off by a kill, it counts for nothing.
          method.failed?.(job, { kind: 'abandoned', error: err, message: 'interrupted before the answer arrived' });
          return;
        }
        s.requestsFailed++;
        const message = err instanceof Error ? err.message : String(err);
        if (err instanceof RetriesExhaustedError) {
          method.failed?.(job, { kind: 'failed', error: err, message });
          return;
        }
        method.failed?.(job, { kind: 'stopped', error: err, message });
        halt(err);
        return;
      } finally {
        s.inFlight--;
        this.sentAt.delete(slot);
        this.wake();
      }
      o.budget.settle(reserved, answer.costUsd);
      const took = performance.now() - t0;
      s.latencyMs = s.latencyMs === null ? took : s.latencyMs + 0.1 * (took - s.latencyMs);
      s.requestsDone++;
      s.promptTokens += answer.promptTokens;
      s.completionTokens += answer.completionTokens;
      s.ingesting++;
      let followUp: void | LoopRequest;
      try {
        followUp = await method.ingest(job, answer, req);
      } finally {
        s.ingesting--;
        this.wake();
      }
      // A job under way finishes even after the method ran out of new ones; a stop that aborted ends it here.
      if (!followUp || aborts.signal.aborted) return;
      const reserve = this.reserveFor(followUp);
      // A follow-up that no longer fits ends the job here: it is asked again on a re-run.
      if (o.budget.wouldExceed(reserve)) {
        stop ??= 'budget';
        return;
      }
      o.budget.reserve(reserve);
      s.inFlight++;
      await send(job, followUp, reserve);
    };

    const start = (job: J, req: LoopRequest, reserved: number) => {
      o.budget.reserve(reserved);
      // Counted from here, not from when the limit starts it: the next turn must see it in flight.
      s.inFlight++;
      const p: Promise<void> = send(job, req, reserved)
        .catch(halt)
        .finally(() => {
          running.delete(p);
          this.wake();
        });
      running.add(p);
    };

    try {
      while (stop === null && fatal === null) {
        if (aborts.signal.aborted) {
          stop = 'interrupted';
          break;
        }
        if (o.pause?.paused) {
          await Promise.race([sleep(200), nextChange()]);
          continue;
        }
        if (s.inFlight >= o.concurrency) {
          await nextChange();
          continue;
        }
        let next: { job: J; req: LoopRequest } | null = held;
        held = null;
        if (next === null) {
          const job = method.next();
          if (job === 'done') {
            stop = 'done';
            break;
          }
          if (job === 'wait') {
            if (running.size === 0) {
              stop = 'done';
              break;
            }
            await nextChange();
            continue;
          }
          next = { job, req: method.build(job) };
        }
        const reserve = this.reserveFor(next.req);
        if (o.budget.wouldExceed(reserve)) {
          if (running.size === 0) {
            stop = 'budget';
            break;
          }
          held = next;
          await nextChange();
          continue;
        }
        start(next.job, next.req, reserve);
      }
      // A method out of jobs or a budget hit lets requests in flight finish (their answers are paid for); Ctrl-C or
      // a fatal error has already aborted them.
      await Promise.allSettled([...running]);
    } finally {
      if (tick) clearInterval(tick);
      aborts.dispose();
    }
    if (fatal !== null) throw fatal;
    if (o.signal?.aborted) stop = 'interrupted';
    return { stop: stop ?? 'done', endpointDown };
  }

  /** The counters now, with the spending and the time. */
  snapshot(): LoopStats {
    this.stats.spentUsd = this.o.budget.spentUsd;
    this.stats.elapsedSec = (Date.now() - this.started) / 1000;
    return { ...this.stats };
  }

  private reserveFor(req: LoopRequest): number {
    // A completions request (Magpie's pre-query) is priced by its prompt; its messages are empty.
    const text = req.prompt === undefined ? req.messages : [...req.messages, { content: req.prompt }];
    return worstCaseUsd(this.o.prices, req.model, text, req.maxTokens ?? 0, this.o.via ?? 'chat');
  }
}
