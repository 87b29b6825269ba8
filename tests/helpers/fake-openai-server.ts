import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeBatchApi, type FakeBatchOptions } from './fake-batch-api.js';
import { fakeEmbedding } from './fake-embeddings.js';

/**
 * A local OpenAI-compatible chat server (loopback only) with scripted behaviours, for tests and benchmarks.
 * By default it answers every request with `numTasks` new, mutually dissimilar tasks in the format the prompt
 * asks for (JSON array or Alpaca's numbered list), in English or Chinese like the prompt.
 */
export type Behaviour =
  | { kind: 'ok'; text?: string; finishReason?: string; usage?: { prompt_tokens: number; completion_tokens: number } | null }
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  /** An error whose message repeats the request's key and Authorization header, as careless servers do. */
  | { kind: 'echo-key'; status: number }
  | { kind: 'hang' }
  | { kind: 'raw'; contentType?: string; body: string };

export interface FakeServerOptions {
  latencyMs?: number;
  /** What to do with the n-th request (0-based). Default: a good answer. */
  behave?: (n: number, body: ChatBody) => Behaviour;
  /** Tasks per good answer. Default: what the prompt asks for. */
  tasksPerAnswer?: number;
  seed?: number;
  /** 'tasks' (default): good answers hold generated tasks; 'text': a plain-text response, different every time. */
  answers?: 'tasks' | 'text';
  /**
   * A teacher whose variety saturates, as real ones do on the way to 52K: the n-th good answer holds
   * asked / (1 + n / saturateAfter) new tasks (rounded at random); the rest repeat tasks it already gave, which the
   * run's dedup rejects. The kept yield falls from the full answer to under one task per request.
   */
  saturateAfter?: number;
  /**
   * /v1/completions (Magpie): false answers 404 there, as a chat-only server does. Default: served, each answer an
   * instruction in the prompt's language, then an end of turn and the start of an assistant turn that a server
   * not told to stop would go on writing.
   */
  completions?: boolean;
  /** What to do with the n-th completions request (0-based). Default: a good instruction. */
  behaveCompletion?: (n: number, body: CompletionBody) => Behaviour;
  /** How the Files and Batches routes behave (they are always served). */
  batch?: FakeBatchOptions;
  /** Delay of each /v1/embeddings answer. */
  embeddingLatencyMs?: number;
  /** An HTTP status to answer the n-th /v1/embeddings request (0-based) with instead of vectors; null: vectors. */
  embeddingStatus?: (n: number) => number | null;
}

export interface ChatBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  max_tokens?: number;
  temperature?: number;
  seed?: number;
}

export interface CompletionBody {
  model: string;
  prompt: string;
  stop?: string[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
}

export interface FakeServer {
  url: string;
  requests: ChatBody[];
  /** Bodies of /v1/completions requests, in arrival order. */
  completionRequests: CompletionBody[];
  /** For each chat request, how many others were being answered when it arrived. */
  concurrentAtArrival: number[];
  /** Authorization headers seen (to check a key is sent, never to print it). */
  authHeaders: string[];
  /** The Files and Batches state: uploaded files, batches, and every batch line run. */
  batchApi: FakeBatchApi;
  /** The texts of each /v1/embeddings request, in arrival order (fakeEmbedding answers them). */
  embeddingRequests: string[][];
  close(): Promise<void>;
}

export async function startFakeServer(opts: FakeServerOptions = {}): Promise<FakeServer> {
  const requests: ChatBody[] = [];
  const completionRequests: CompletionBody[] = [];
  const authHeaders: string[] = [];
  const concurrentAtArrival: number[] = [];
  const embeddingRequests: string[][] = [];
  const embeddingFailures: string[][] = [];
  let answering = 0;
  const gen = new TaskWriter(opts.seed ?? 1, opts.saturateAfter);
  const hung: ServerResponse[] = [];
  // Batch lines are answered as the chat route answers (tasks, or plain text with answers: 'text').
  const batchApi = new FakeBatchApi(opts.batch ?? {}, (body) => {
    const prompt = (body as ChatBody).messages.map((m) => m.content).join('\n');
    const text = opts.answers === 'text' ? (prompt.includes('[END]') || prompt.includes('【结束】') ? gen.saturating(() => gen.reply()) : gen.reply()) : gen.answer(prompt, opts.tasksPerAnswer);
    return completion(body as ChatBody, text, 'stop', undefined);
  });
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (batchApi.handle(req, res, Buffer.concat(chunks))) return;
      let body: ChatBody;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json"}}');
        return;
      }
      if (req.url?.endsWith('/embeddings')) {
        const input = (body as unknown as { input: string | string[] }).input;
        const texts = Array.isArray(input) ? input : [input];
        const status = opts.embeddingStatus?.(embeddingRequests.length + embeddingFailures.length) ?? null;
        if (status !== null) {
          embeddingFailures.push(texts);
          res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `fake embeddings status ${status}` } }));
          return;
        }
        embeddingRequests.push(texts);
        const data = texts.map((t, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(t) }));
        const send = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: texts.length, total_tokens: texts.length } }));
        if (opts.embeddingLatencyMs) setTimeout(send, opts.embeddingLatencyMs);
        else send();
        return;
      }
      if (req.url?.endsWith('/v1/completions') && opts.completions !== false) {
        const cbody = body as unknown as CompletionBody;
        const n = completionRequests.length;
        completionRequests.push(cbody);
        const b = opts.behaveCompletion?.(n, cbody) ?? { kind: 'ok' };
        const respond = () => answerCompletion(res, b, cbody, gen);
        if (opts.latencyMs) setTimeout(respond, opts.latencyMs);
        else respond();
        return;
      }
      if (!req.url?.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
        return;
      }
      const n = requests.length;
      requests.push(body);
      authHeaders.push(String(req.headers.authorization ?? ''));
      const behaviour = opts.behave?.(n, body) ?? { kind: 'ok' };
      concurrentAtArrival.push(answering++);
      res.once('close', () => answering--);
      const respond = () => answer(res, behaviour, body, gen, opts.tasksPerAnswer, hung, String(req.headers.authorization ?? ''), opts.answers === 'text');
      if (opts.latencyMs) setTimeout(respond, opts.latencyMs);
      else respond();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    completionRequests,
    concurrentAtArrival,
    authHeaders,
    batchApi,
    embeddingRequests,
    close: () =>
      new Promise<void>((resolve) => {
        batchApi.close();
        for (const r of hung) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(res: ServerResponse, b: Behaviour, body: ChatBody, gen: TaskWriter, tasksPerAnswer: number | undefined, hung: ServerResponse[], auth: string, plainText = false): void {
  if (b.kind === 'echo-key') {
    const key = auth.replace(/^Bearer\s+/i, '');
    const message = `Incorrect API key provided: ${key}. You sent the header "Authorization: ${auth}".`;
    res.writeHead(b.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: key } }));
    return;
  }
  if (b.kind === 'hang') {
    hung.push(res);
    return;
  }
  if (b.kind === 'status') {
    res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers }).end(JSON.stringify(b.body ?? { error: { message: `scripted ${b.status}`, type: 'test' } }));
    return;
  }
  if (b.kind === 'raw') {
    res.writeHead(200, { 'content-type': b.contentType ?? 'application/json' }).end(b.body);
    return;
  }
  const prompt = body.messages.map((m) => m.content).join('\n');
  const text = b.text ?? (plainText ? (prompt.includes('[END]') || prompt.includes('【结束】') ? gen.saturating(() => gen.reply()) : gen.reply()) : gen.answer(prompt, tasksPerAnswer));
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion(body, text, b.finishReason ?? 'stop', b.usage)));
}

function answerCompletion(res: ServerResponse, b: Behaviour, body: CompletionBody, gen: TaskWriter): void {
  if (b.kind === 'status') {
    res.writeHead(b.status, { 'content-type': 'application/json', ...b.headers }).end(JSON.stringify(b.body ?? { error: { message: `scripted ${b.status}`, type: 'test' } }));
    return;
  }
  if (b.kind !== 'ok') throw new Error(`fake server: completions behaviour ${b.kind} is not scripted`);
  const zh = /[\u4e00-\u9fff]/.test(body.prompt);
  const llama = body.prompt.includes('<|start_header_id|>');
  const eot = llama ? '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n' : '<|im_end|>\n<|im_start|>assistant\n';
  const text = b.text ?? `${gen.saturating(() => gen.task(zh).instruction)}${eot}${gen.reply()}`;
  const usage = { prompt_tokens: Math.ceil(body.prompt.length / 4), completion_tokens: Math.ceil(text.length / 4) };
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ id: 'cmpl-test', object: 'text_completion', created: 0, model: body.model, choices: [{ index: 0, text, finish_reason: b.finishReason ?? 'stop' }], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }));
}

function completion(body: ChatBody, text: string, finishReason: string, usageIn: { prompt_tokens: number; completion_tokens: number } | null | undefined): object {
  const prompt = body.messages.map((m) => m.content).join('\n');
  const usage = usageIn === undefined ? { prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: Math.ceil(text.length / 4) } : usageIn;
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 0,
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finishReason }],
    ...(usage ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } } : {}),
  };
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'tu', 'sa', 'vel', 'dor', 'pi', 'qua', 'zen', 'bri', 'fo', 'gal', 'hu', 'jex', 'nor', 'wy', 'cal', 'tem', 'ost', 'ur', 'li', 'mab'];
const HANZI = '天地人山水火风云日月星花草木鸟鱼马牛羊书画诗词歌舞茶酒米面春夏秋冬东西南北江河湖海林石金银铜铁红黄蓝绿白黑长短高低大小多少新旧早晚快慢远近冷热甜苦';

/** Writes tasks whose instructions share almost no words, so the run's own dedup keeps them. */
export class TaskWriter {
  private state: number;
  private answered = 0;
  private readonly given: Array<{ instruction: string; input: string; output: string }> = [];
  constructor(
    seed: number,
    private readonly saturateAfter?: number,
  ) {
    this.state = seed >>> 0 || 1;
  }
  rand(): number {
    // xorshift32: fast, and deterministic per server seed.
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 4294967296;
  }
  word(): string {
    let w = '';
    const n = 2 + Math.floor(this.rand() * 2);
    for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(this.rand() * SYLLABLES.length)];
    return w;
  }
  task(zh: boolean): { instruction: string; input: string; output: string } {
    if (zh) {
      const pick = (n: number) => Array.from({ length: n }, () => HANZI[Math.floor(this.rand() * HANZI.length)]).join('');
      return { instruction: `请说明${pick(10)}的含义。`, input: this.rand() < 0.4 ? pick(12) : '', output: `${pick(20)}。` };
    }
    const words = Array.from({ length: 7 }, () => this.word());
    return {
      instruction: `Explain ${words.join(' ')}.`,
      input: this.rand() < 0.4 ? Array.from({ length: 6 }, () => this.word()).join(' ') : '',
      output: `${Array.from({ length: 12 }, () => this.word()).join(' ')}.`,
    };
  }
  /** A plain-text answer to one task. */
  reply(): string {
    return `${Array.from({ length: 10 }, () => this.word()).join(' ')}.`;
  }
  private said: string[] = [];
  private spoken = 0;
  /**
   * One text from a teacher whose variety saturates as `answer` does (the n-th is new with odds 1 / (1 + n /
   * saturateAfter), else a repeat of an earlier one); always new without saturateAfter.
   */
  saturating(make: () => string): string {
    const n = this.spoken++;
    if (this.saturateAfter !== undefined && this.said.length > 0 && this.rand() >= 1 / (1 + n / this.saturateAfter)) return this.said[Math.floor(this.rand() * this.said.length)]!;
    const t = make();
    if (this.saturateAfter !== undefined) this.said.push(t);
    return t;
  }
  answer(prompt: string, tasksPerAnswer?: number): string {
    const zh = /[\u4e00-\u9fff]/.test(prompt.slice(0, 200));
    const asked = Number(/(\d+)/.exec(prompt)?.[1] ?? 20);
    const numbered = /Instruction:\s*$/.test(prompt.trimEnd());
    const next = Number(/(\d+)\. Instruction:\s*$/.exec(prompt.trimEnd())?.[1] ?? 1);
    const count = tasksPerAnswer ?? (numbered ? asked - next + 1 : asked);
    const tasks = Array.from({ length: count }, () => this.task(zh));
    if (this.saturateAfter !== undefined) {
      const share = count / (1 + this.answered++ / this.saturateAfter);
      const fresh = Math.floor(share) + (this.rand() < share % 1 ? 1 : 0);
      for (let i = 0; i < fresh; i++) this.given.push(tasks[i]!);
      for (let i = fresh; i < count && this.given.length > 0; i++) tasks[i] = this.given[Math.floor(this.rand() * this.given.length)]!;
    }
    if (!numbered) return JSON.stringify(tasks);
    return tasks
      .map((t, i) => {
        const k = next + i;
        return `${i === 0 ? '' : `###\n${k}. Instruction: `}${i === 0 ? ` ${t.instruction}` : t.instruction}\n${k}. Input:\n${t.input || '<noinput>'}\n${k}. Output:\n${t.output}`;
      })
      .join('\n');
  }
}
