import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeConfigSchema } from '../../src/config/curation.js';
import { judgeItems, loadJudgePrompt, parseJudgeAnswer, renderJudgePrompt, type JudgeClient, type JudgeSink } from '../../src/curate/judge.js';
import { RetriesExhaustedError, type ChatRequest, type ChatResult } from '../../src/llm/chat-client.js';
import { ApiError, ConfigError } from '../../src/errors.js';

test('judge answers are read from fenced or surrounded JSON; scores outside 0–5 or missing are not answers', () => {
  assert.deepEqual(parseJudgeAnswer('```json\n{"score": 4.5, "reason": "Correct and clear."}\n```'), { ok: true, score: 4.5, reason: 'Correct and clear.' });
  assert.deepEqual(parseJudgeAnswer('Sure! {"score": "3", "reason": "ok"} Hope this helps.'), { ok: true, score: 3, reason: 'ok' });
  assert.equal(parseJudgeAnswer('{"score": 7, "reason": "great"}').ok, false);
  assert.equal(parseJudgeAnswer('{"reason": "no score"}').ok, false);
  assert.equal(parseJudgeAnswer('I would give it a 4.').ok, false);
  assert.equal(parseJudgeAnswer('{"score": 4, "reason": "unterminated').ok, false);
});

test('the bundled rubric prompts fill instruction, input and output, in English and Chinese', () => {
  const en = loadJudgePrompt('judge', 'en');
  const text = renderJudgePrompt(en, { instruction: 'Add {{output}} numbers.', input: '', output: '42' }, 'en');
  assert.match(text, /<<<INSTRUCTION\nAdd \{\{output\}\} numbers\.\nINSTRUCTION>>>/);
  assert.match(text, /<<<INPUT\n\(none\)\nINPUT>>>/);
  assert.match(text, /<<<RESPONSE\n42\nRESPONSE>>>/);
  const zh = renderJudgePrompt(loadJudgePrompt('judge', 'zh'), { instruction: '写一首诗', input: '', output: '床前明月光' }, 'zh');
  assert.match(zh, /（无）/);
  assert.match(zh, /床前明月光/);
});

test('a judge prompt file with an unknown placeholder is a config error naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-judge-'));
  const p = join(dir, 'mine.md');
  writeFileSync(p, 'Rate {{instruction}} → {{answer}}');
  assert.throws(() => loadJudgePrompt(p, 'en'), (e: Error) => e instanceof ConfigError && e.message.includes(p) && e.message.includes('{{answer}}'));
});

/** A scripted judge: `script(itemText, attempt)` returns the answer text or throws. */
function fakeClient(script: (instruction: string, attempt: number, req: ChatRequest) => string, usage = { promptTokens: 100, completionTokens: 20, costUsd: 0.001 }) {
  const attempts = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const requests: ChatRequest[] = [];
  const client: JudgeClient = {
    model: 'judge-model',
    async complete(req) {
      requests.push(req);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 2));
        const instruction = /<<<INSTRUCTION\n([\s\S]*?)\nINSTRUCTION>>>/.exec(req.messages[0]!.content)![1]!;
        const n = attempts.get(instruction) ?? 0;
        attempts.set(instruction, n + 1);
        const text = script(instruction, n, req);
        return { text, finishReason: 'stop', ...usage } satisfies ChatResult;
      } finally {
        inFlight--;
      }
    },
  };
  return { client, requests, maxInFlight: () => maxInFlight };
}

function memorySink() {
  const scores = new Map<number, { score: number | null; reason: string }>();
  const requests: Array<{ itemId: number; ok: boolean; raw: string }> = [];
  const sink: JudgeSink = {
    setJudge: (id, score, reason) => scores.set(id, { score, reason }),
    recordJudgeRequest: (r) => requests.push(r),
  };
  return { sink, scores, requests };
}

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i + 1, instruction: `task ${i + 1}`, input: '', output: `answer ${i + 1}` }));
const prompt = loadJudgePrompt('judge', 'en');

test('unparseable answers are asked again with a repair message, then recorded as unparseable without stopping the batch', async () => {
  const f = fakeClient((inst, attempt) => {
    if (inst === 'task 2') return attempt < 2 ? 'I think it is good' : '{"score": 4, "reason": "fine"}';
    if (inst === 'task 3') return 'no idea';
    if (inst === 'task 4') throw new RetriesExhaustedError('gave up after 7 attempts: HTTP 503');
    return '{"score": 5, "reason": "perfect"}';
  });
  const m = memorySink();
  const cfg = judgeConfigSchema.parse({ concurrency: 3, parseRetries: 2 });
  const out = await judgeItems(items(6), { client: f.client, prompt, cfg, lang: 'en', sink: m.sink });
  assert.equal(out.stop, 'done');
  assert.equal(out.scored, 4);
  assert.equal(out.failed, 2);
  assert.deepEqual(m.scores.get(2), { score: 4, reason: 'fine' });
  assert.equal(m.scores.get(3)!.score, null);
  assert.match(m.scores.get(3)!.reason, /^unparseable: no JSON object/);
  assert.match(m.scores.get(4)!.reason, /^failed: gave up/);
  // Task 2: three requests, the last two carrying the bad answer and the repair message.
  const t2 = f.requests.filter((r) => r.messages[0]!.content.includes('task 2\n'));
  assert.equal(t2.length, 3);
  assert.equal(t2[2]!.messages.length, 5);
  assert.equal(t2[2]!.messages[1]!.role, 'assistant');
  assert.match(t2[2]!.messages[2]!.content, /could not be read/);
  // Every request is accounted for, failed ones as not ok.
  assert.equal(m.requests.length, f.requests.length);
  assert.equal(m.requests.filter((r) => !r.ok).length, 2 + 3 + 1);
  assert.ok(f.maxInFlight() <= 3 && f.maxInFlight() >= 2, `max in flight ${f.maxInFlight()}`);
  assert.ok(Math.abs(out.costUsd - 0.001 * (f.requests.length - 1)) < 1e-12);
});

test('judging stops before it would exceed the budget, leaving the rest for a re-run', async () => {
  const f = fakeClient(() => '{"score": 5, "reason": "ok"}', { promptTokens: 1000, completionTokens: 100, costUsd: 0.002 });
  const m = memorySink();
  // Worst case per request: prompt ≈ chars/2 tokens at $1/M plus 300 tokens at $2/M ≈ $0.0013; the real one costs $0.002.
  const cfg = judgeConfigSchema.parse({ concurrency: 1, budgetUsd: 0.01 });
  const out = await judgeItems(items(20), { client: f.client, prompt, cfg, lang: 'en', sink: m.sink, prices: { 'judge-model': { input: 1, output: 2 } } });
  assert.equal(out.stop, 'budget');
  assert.ok(out.scored >= 3 && out.scored < 20, `scored ${out.scored}`);
  assert.equal(out.notJudged, 20 - out.scored);
  assert.ok(out.costUsd <= 0.01, `spent ${out.costUsd}`);
  assert.match(out.message, /judge budget of \$0.01/);
});

test('a fatal API error (bad key) stops the batch and is thrown', async () => {
  const f = fakeClient((inst) => {
    if (inst === 'task 1') throw new ApiError('judge-model: 401 invalid API key', 401);
    return '{"score": 5, "reason": "ok"}';
  });
  const m = memorySink();
  await assert.rejects(judgeItems(items(50), { client: f.client, prompt, cfg: judgeConfigSchema.parse({ concurrency: 1 }), lang: 'en', sink: m.sink }), ApiError);
  assert.ok(f.requests.length < 50);
});

test('Ctrl-C stops judging; what was scored stays, the rest is reported as not judged', async () => {
  const controller = new AbortController();
  let n = 0;
  const f = fakeClient(() => {
    if (++n === 5) controller.abort();
    return '{"score": 3, "reason": "meh"}';
  });
  const m = memorySink();
  const out = await judgeItems(items(40), { client: f.client, prompt, cfg: judgeConfigSchema.parse({ concurrency: 2 }), lang: 'en', sink: m.sink, signal: controller.signal });
  assert.equal(out.stop, 'interrupted');
  assert.ok(out.notJudged > 0 && out.scored >= 4);
  assert.equal(m.scores.size, out.scored);
});

test('each judge request is recorded with the model that answered and the endpoint, without credentials', async () => {
  const recorded: Array<{ model?: string; endpoint?: string; ok: boolean }> = [];
  const client: JudgeClient = {
    model: 'judge-model',
    baseURL: 'https://user:pw@judge.example.com/v1',
    async complete(req) {
      if (req.messages[0]!.content.includes('task 2\n')) throw new RetriesExhaustedError('gave up after 1 attempt: HTTP 503');
      return { text: '{"score": 5, "reason": "ok"}', finishReason: 'stop', promptTokens: 1, completionTokens: 1, costUsd: 0, model: 'judge-model-0613' };
    },
  };
  const sink: JudgeSink = { setJudge: () => {}, recordJudgeRequest: (r) => recorded.push(r) };
  await judgeItems(items(2), { client, prompt, cfg: judgeConfigSchema.parse({ concurrency: 1 }), lang: 'en', sink });
  assert.deepEqual(
    recorded.map((r) => [r.ok, r.model, r.endpoint]),
    [
      [true, 'judge-model-0613', 'https://judge.example.com/v1'],
      [false, 'judge-model', 'https://judge.example.com/v1'],
    ],
  );
});

test("the judge's client takes generation's retry and pause settings: a failing endpoint stops judging after the configured pauses", async () => {
  const { startFakeServer } = await import('../helpers/fake-openai-server.js');
  const { forgeConfigSchema } = await import('../../src/config/schema.js');
  const { createJudgeClient } = await import('../../src/curate/judge.js');
  const server = await startFakeServer({ behave: () => ({ kind: 'status', status: 503 }) });
  try {
    const forge = forgeConfigSchema.parse({ generation: { model: 'gen-model', baseUrl: server.url, maxRetries: 2, pauseAfterFailures: 2, pauseSeconds: 0.04, maxPauses: 2 }, judge: { model: 'judge-x' } });
    const cfg = judgeConfigSchema.parse({ model: 'judge-x', concurrency: 1 });
    const transport: Array<{ state: string; waitMs?: number }> = [];
    const client = createJudgeClient(forge, cfg, { apiKey: 'sk-judge-test', onTransport: (t) => transport.push(t) });
    assert.equal(client.model, 'judge-x');
    const m = memorySink();
    const t0 = Date.now();
    const out = await judgeItems(items(4), { client, prompt, cfg, lang: 'en', sink: m.sink });
    assert.equal(out.stop, 'endpoint-down', out.message);
    // Defaults (5 failures, 30 s doubling, 8 pauses) would have taken minutes; these take well under a second.
    assert.deepEqual(transport.filter((t) => t.state === 'paused').map((t) => t.waitMs), [40, 80]);
    assert.ok(Date.now() - t0 < 10_000);
    assert.ok(server.requests.every((r) => r.model === 'judge-x'));
    assert.ok(server.requests.length <= 2 * 3 + 2, `${server.requests.length} requests`);
  } finally {
    await server.close();
  }
});

test('with generation.endpoints the judge goes through a pool of the endpoints serving its model, never elsewhere', async () => {
  const { startFakeServer } = await import('../helpers/fake-openai-server.js');
  const { forgeConfigSchema } = await import('../../src/config/schema.js');
  const { createJudgeClient } = await import('../../src/curate/judge.js');
  const answer = { kind: 'ok', text: '{"score": 4, "reason": "fine"}' } as const;
  const a = await startFakeServer({ behave: () => answer });
  const b = await startFakeServer({ behave: () => answer });
  const other = await startFakeServer({ behave: () => answer });
  try {
    const endpoints = [
      { baseUrl: a.url, model: 'judge-x' },
      { baseUrl: b.url, model: 'judge-x' },
      { baseUrl: other.url, model: 'gen-model' },
    ];
    // A baseUrl as well: the pool is what generate uses, so it is what the judge uses.
    const forge = forgeConfigSchema.parse({ generation: { model: 'gen-model', baseUrl: other.url, endpoints }, judge: { model: 'judge-x' } });
    const cfg = judgeConfigSchema.parse({ model: 'judge-x', concurrency: 4 });
    const client = createJudgeClient(forge, cfg, { apiKey: 'sk-judge-pool' });
    const recorded: Array<{ endpoint?: string; ok: boolean }> = [];
    const sink: JudgeSink = { setJudge: () => {}, recordJudgeRequest: (r) => recorded.push(r) };
    const out = await judgeItems(items(12), { client, prompt, cfg, lang: 'en', sink });
    assert.equal(out.scored, 12, out.message);
    assert.equal(other.requests.length, 0, 'nothing went to the endpoint of another model, nor to baseUrl');
    assert.equal(a.requests.length + b.requests.length, 12);
    assert.ok(a.requests.length > 0 && b.requests.length > 0, `spread: ${a.requests.length} + ${b.requests.length}`);
    assert.deepEqual(new Set(recorded.map((r) => r.endpoint)), new Set([a.url, b.url]));
    // A judge model no endpoint serves is refused before any request.
    const unserved = forgeConfigSchema.parse({ generation: { model: 'gen-model', endpoints }, judge: { model: 'judge-y' } });
    assert.throws(
      () => createJudgeClient(unserved, judgeConfigSchema.parse({ model: 'judge-y' }), { apiKey: undefined }),
      (e: unknown) => e instanceof ConfigError && /no endpoint in generation\.endpoints serves the judge's model "judge-y" \(they serve "judge-x", "gen-model"\)/.test(e.message),
    );
  } finally {
    await a.close();
    await b.close();
    await other.close();
  }
});
