import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../../src/config/schema.js';
import { runGeneration } from '../../src/generate/run-generation.js';
import type { GenerateEvent } from '../../src/events.js';
import { startFakeServer } from '../helpers/fake-openai-server.js';

test('a teacher whose variety ran out stops the run at the --min-yield floor, saying why and how to continue', async () => {
  const same = JSON.stringify(Array.from({ length: 5 }, () => ({ instruction: 'Explain tempura vel dor kamilo.', input: '', output: 'x' })));
  const server = await startFakeServer({ behave: () => ({ kind: 'ok', text: same, usage: { prompt_tokens: 10, completion_tokens: 0 } }) });
  const runDir = join(mkdtempSync(join(tmpdir(), 'forge-gen-')), 'run');
  try {
    const events: GenerateEvent[] = [];
    // The budget is only a backstop for code without the floor: about 2,000 answers.
    const config = forgeConfigSchema.parse({ generation: { baseUrl: server.url, model: 'm', concurrency: 16, target: 100000, seed: 1, budgetUsd: 0.02, maxTokens: 1 }, prices: { m: { input: 1, output: 0 } } });
    const out = await runGeneration({ runDir, config, signal: new AbortController().signal, onEvent: (e) => events.push(e) });
    assert.equal(out.reason, 'low-yield', out.message);
    assert.ok(server.requests.length >= 500 && server.requests.length < 600, `${server.requests.length} requests`);
    assert.match(out.message, /top rejections: duplicate:exact/);
    assert.match(out.message, /--min-yield 0/);
    const done = events.at(-1);
    assert.ok(done?.type === 'done' && done.reason === 'low-yield' && done.lowYield?.answers === 500, '--json ends with the reason and its figures');
  } finally {
    await server.close();
  }
});
