import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, ConfigError, DataError, exitCodeFor, exitCodes, ForgeError, ModelError, reviveError, serializeError, StoreError, UsageError } from '../src/errors.js';
import { StoreError as StoreErrorFromStore } from '../src/store/run-store.js';
import { EndpointDownError } from '../src/llm/endpoint-gate.js';

/** Through structured clone, as postMessage does. */
const acrossThread = (e: unknown) => reviveError(structuredClone(serializeError(e)));

test('every ForgeError class survives a thread boundary with its class, code, exit code and hint', () => {
  const cases: ForgeError[] = [
    new UsageError('bad flag', 'see --help'),
    new ConfigError(['forge.yaml:3: a: bad', 'forge.yaml:4: b: bad'], 'fix them'),
    new DataError('bad file', 'fix the file'),
    new ModelError('no model', 'pass --model'),
    new ApiError('401', 401, 'check the key'),
    new StoreError('locked', 'wait'),
  ];
  for (const original of cases) {
    const back = acrossThread(original);
    assert.equal(back.constructor, original.constructor, original.name);
    assert.ok(back instanceof ForgeError);
    assert.deepEqual([back.name, back.message, back.code, back.exitCode, back.hint], [original.name, original.message, original.code, original.exitCode, original.hint]);
  }
  assert.deepEqual((acrossThread(cases[1]) as ConfigError).problems, ['forge.yaml:3: a: bad', 'forge.yaml:4: b: bad']);
  assert.equal((acrossThread(cases[4]) as ApiError).status, 401);
});

test('a ForgeError subclass from another module comes back as a ForgeError of the same name, code and hint; a plain error stays plain', () => {
  const down = acrossThread(new EndpointDownError('gone'));
  assert.ok(down instanceof ForgeError);
  assert.deepEqual([down.name, down.code, down.exitCode], ['EndpointDownError', 'api', 6]);
  assert.match(down.hint ?? '', /resume/);
  const plain = acrossThread(new RangeError('oops'));
  assert.ok(!(plain instanceof ForgeError));
  assert.deepEqual([plain.name, plain.message], ['RangeError', 'oops']);
  assert.equal(acrossThread('a string').message, 'a string');
});

test('StoreError is one class, exported from errors.ts and (as before) from the run store', () => {
  assert.equal(StoreErrorFromStore, StoreError);
  assert.equal(new StoreError('x').exitCode, exitCodes.store);
});

test('the CLI takes exit codes from the one table, never as literals', () => {
  assert.deepEqual([exitCodeFor('api'), exitCodeFor('interrupted'), exitCodeFor('internal')], [6, 130, 1]);
  const files = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
  const offenders: string[] = [];
  for (const f of files('src/cli')) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // `return 0` (success) is not an error code; anything else must come from the table.
        if (!/\breturn\b|exitCode\s*=|process\.exit\(/.test(line)) return;
        if (/(?:\breturn\s+|[?:]\s*|exitCode\s*=\s*|process\.exit\(\s*)[1-9]\d*\b/.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(offenders, []);
});

test('EndpointUnreachableError comes back from a worker as itself, hint unchanged, so the pool still treats it as a dead endpoint', async () => {
  const { EndpointUnreachableError } = await import('../src/llm/chat-client.js');
  const original = new EndpointUnreachableError('cannot reach http://127.0.0.1:9/v1: connection refused; gave up after 3 attempts', 'start the server');
  const back = acrossThread(original);
  assert.ok(back instanceof EndpointUnreachableError, `${back.name} ${back.constructor.name}`);
  assert.ok(back instanceof ApiError);
  assert.deepEqual([back.name, back.message, back.hint, back.exitCode], [original.name, original.message, original.hint, original.exitCode]);
});
