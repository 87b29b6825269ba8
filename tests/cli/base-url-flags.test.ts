import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseUrlFlags } from '../../src/cli/base-url-flags.js';
import { ConfigError } from '../../src/errors.js';

const pool = { baseUrl: null, endpoints: [{ baseUrl: 'http://gpu-a:8000/v1', weight: 2 }, { baseUrl: 'http://gpu-b:8000/v1', weight: 1, model: 'other' }] };

test('--base-url overrides forge.yaml: once, that endpoint alone in place of its endpoints; several times, a pool of equal endpoints', () => {
  assert.deepEqual(baseUrlFlags({ 'base-url': ['http://one:8000/v1'] }, pool, {}), { baseUrl: 'http://one:8000/v1', endpoints: [] });
  assert.deepEqual(baseUrlFlags({ 'base-url': ['http://a/v1', 'http://b/v1'] }, { baseUrl: 'http://file/v1', endpoints: [] }, {}), {
    baseUrl: null,
    endpoints: [
      { baseUrl: 'http://a/v1', weight: 1 },
      { baseUrl: 'http://b/v1', weight: 1 },
    ],
  });
});

test('without --base-url forge.yaml stands, $OPENAI_BASE_URL filling a null baseUrl; a bad URL names where it came from', () => {
  assert.deepEqual(baseUrlFlags({}, pool, { OPENAI_BASE_URL: 'http://env/v1' }), { ...pool, baseUrl: 'http://env/v1' });
  assert.deepEqual(baseUrlFlags({}, { baseUrl: 'http://file/v1', endpoints: [] }, { OPENAI_BASE_URL: 'http://env/v1' }), { baseUrl: 'http://file/v1', endpoints: [] });
  assert.deepEqual(baseUrlFlags({}, { baseUrl: null, endpoints: [] }, {}), { baseUrl: null, endpoints: [] });
  assert.throws(() => baseUrlFlags({ 'base-url': ['localhost:8000'] }, pool, {}), (e: Error) => e instanceof ConfigError && /^--base-url: "localhost:8000" must start with http/.test(e.message));
  assert.throws(() => baseUrlFlags({}, pool, { OPENAI_BASE_URL: 'gpu:8000' }), (e: Error) => e instanceof ConfigError && /^OPENAI_BASE_URL: /.test(e.message));
});
