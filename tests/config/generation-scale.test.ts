import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { renderDefaultConfig } from '../../src/config/render-default.js';
import { poolEndpoints } from '../../src/llm/pool-from-config.js';

test('endpoints, batch settings and batch prices load from forge.yaml; an endpoint takes the run\'s model, key and concurrency by default', () => {
  const c = parseConfigText(
    [
      'generation:',
      '  model: base-model',
      '  concurrency: 24',
      '  mode: batch',
      '  batch: { maxRequests: 500 }',
      '  endpoints:',
      '    - { baseUrl: "http://a:8000/v1", weight: 2, concurrency: 8 }',
      '    - { baseUrl: "http://b:8000/v1", model: other, apiKeyEnv: B_KEY }',
      'prices:',
      '  base-model: { input: 1, output: 2, batchInput: 0.5, batchOutput: 1 }',
    ].join('\n'),
    'forge.yaml',
  );
  assert.equal(c.generation.mode, 'batch');
  assert.equal(c.generation.batch.maxRequests, 500);
  assert.equal(c.generation.batch.pollSeconds, 15);
  assert.equal(c.prices['base-model']!.batchInput, 0.5);
  const keys: Record<string, string> = { OPENAI_API_KEY: 'sk-main', B_KEY: 'sk-b' };
  assert.deepEqual(poolEndpoints(c.generation, c.generation, { apiKeyFor: (n) => keys[n] }), [
    { baseURL: 'http://a:8000/v1', model: 'base-model', apiKey: 'sk-main', weight: 2, concurrency: 8 },
    { baseURL: 'http://b:8000/v1', model: 'other', apiKey: 'sk-b', weight: 1, concurrency: 24 },
  ]);
});

test('a bad endpoint is named with its file, line and field', () => {
  assert.throws(
    () => parseConfigText('generation:\n  endpoints:\n    - baseUrl: "http://a:8000/v1"\n      weight: 0\n', 'forge.yaml'),
    /forge\.yaml:4: generation\.endpoints\.0\.weight: /,
  );
  assert.throws(() => parseConfigText('generation:\n  mode: offline\n', 'forge.yaml'), /forge\.yaml:2: generation\.mode: /);
});

test('init writes the new settings, and what it writes loads', () => {
  const text = renderDefaultConfig();
  assert.match(text, /^ {2}mode: online$/m);
  assert.match(text, /^ {2}endpoints: \[\]$/m);
  assert.match(text, /^ {4}maxRequests: 2000$/m);
  assert.equal(parseConfigText(text, 'forge.yaml').generation.mode, 'online');
});
