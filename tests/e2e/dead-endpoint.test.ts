import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { runCli } from '../helpers/cli.js';

const workDir = () => mkdtempSync(join(tmpdir(), 'forge-dead-'));

/** A loopback port that nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// On defaults (6 retries, 8 pauses from 30 s doubling) this used to take ~45 minutes and said "Connection error.".
test('generate against a port with nothing listening exits 6 within seconds, naming 127.0.0.1:PORT and "connection refused"', async () => {
  const port = await deadPort();
  const dir = workDir();
  for (const json of [false, true]) {
    const t0 = Date.now();
    const r = await runCli(['generate', '--run', join(dir, `run-${json}`), '--base-url', `http://127.0.0.1:${port}/v1`, '--target', '10', ...(json ? ['--json'] : [])], { cwd: dir, env: { OPENAI_API_KEY: 'sk-dead-endpoint-test' }, timeoutMs: 60_000 });
    const secs = (Date.now() - t0) / 1000;
    assert.equal(r.code, 6, r.stderr);
    assert.ok(secs < 15, `took ${secs} s`);
    assert.match(r.stderr, new RegExp(`connection refused by 127\\.0\\.0\\.1:${port}`));
    assert.match(r.stderr, /gave up after 3 attempts/);
    assert.match(r.stderr, /→ start the server, or fix --base-url/);
    assert.equal(r.stderr.match(/^error: /gm)?.length, 1, 'one error line');
  }
});

test('a host that does not resolve (.invalid) exits 6 and names the host', async () => {
  const dir = workDir();
  const r = await runCli(['generate', '--run', join(dir, 'run'), '--base-url', 'http://forge-no-such-host.invalid/v1', '--target', '10'], { cwd: dir, timeoutMs: 60_000 });
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /forge-no-such-host\.invalid/);
  assert.match(r.stderr, /host not found|DNS lookup/);
  assert.match(r.stderr, /→ check the host name in --base-url/);
});

test('curate --judge against a dead endpoint gives up the same way', async () => {
  const good = await startFakeServer();
  const dir = workDir();
  const runDir = join(dir, 'run');
  try {
    assert.equal((await runCli(['generate', '--run', runDir, '--base-url', good.url, '--target', '5', '--model', 'm'], { cwd: dir })).code, 0);
  } finally {
    await good.close();
  }
  const port = await deadPort();
  const t0 = Date.now();
  const r = await runCli(['curate', '--run', runDir, '--judge', '--base-url', `http://127.0.0.1:${port}/v1`], { cwd: dir, timeoutMs: 60_000 });
  assert.equal(r.code, 6, r.stderr);
  assert.ok(Date.now() - t0 < 15_000);
  assert.match(r.stderr, new RegExp(`connection refused by 127\\.0\\.0\\.1:${port}`));
});

test('a base URL without http:// or https:// is refused in one line naming the flag or the field', async () => {
  const dir = workDir();
  const flag = await runCli(['generate', '--run', join(dir, 'run'), '--base-url', 'localhost:8000', '--target', '10'], { cwd: dir });
  assert.equal(flag.code, 3, flag.stderr);
  assert.match(flag.stderr, /^error: --base-url: "localhost:8000" must start with http:\/\/ or https:\/\//m);
  const judge = await runCli(['curate', '--in', join(dir, 'x.json'), '--out', join(dir, 'y.json'), '--judge', '--base-url', 'localhost:8000'], { cwd: dir });
  assert.equal(judge.code, 3, judge.stderr);
  assert.match(judge.stderr, /--base-url: "localhost:8000" must start with http/);
  const config = join(dir, 'forge.yaml');
  writeFileSync(config, 'generation:\n  baseUrl: localhost:8000\n');
  const file = await runCli(['generate', '--run', join(dir, 'run2'), '--config', config, '--target', '10'], { cwd: dir });
  assert.equal(file.code, 3, file.stderr);
  assert.match(file.stderr, /forge\.yaml:2: generation\.baseUrl: must start with http:\/\/ or https:\/\//);
});

test('a base URL with a user:password is refused without printing the password, from a flag and from forge.yaml', async () => {
  const dir = workDir();
  const flag = await runCli(['generate', '--run', join(dir, 'run'), '--base-url', 'https://me:pw-in-url-123@api.example.com/v1', '--target', '10'], { cwd: dir });
  assert.equal(flag.code, 3, flag.stderr);
  assert.match(flag.stderr, /^error: --base-url must not hold a user:password; give the key through the variable named by apiKeyEnv/m);
  const config = join(dir, 'forge.yaml');
  writeFileSync(config, 'generation:\n  endpoints:\n    - baseUrl: https://me:pw-in-url-123@api.example.com/v1\n');
  const file = await runCli(['generate', '--run', join(dir, 'run2'), '--config', config, '--target', '10'], { cwd: dir });
  assert.equal(file.code, 3, file.stderr);
  assert.match(file.stderr, /forge\.yaml:3: generation\.endpoints\.0\.baseUrl: must not hold a user:password/);
  for (const r of [flag, file]) assert.doesNotMatch(r.stdout + r.stderr, /pw-in-url-123/);
});

test('--json: a command that fails ends its event stream with an error event carrying the message, hint and exit code', async () => {
  const server = await startFakeServer({ behave: () => ({ kind: 'status', status: 401, body: { error: { message: 'Incorrect API key provided: sk-json-err-key-123' } } }) });
  const dir = workDir();
  try {
    const r = await runCli(['generate', '--run', join(dir, 'run'), '--base-url', server.url, '--model', 'm', '--target', '10', '--json'], { cwd: dir, env: { OPENAI_API_KEY: 'sk-json-err-key-123' } });
    assert.notEqual(r.code, 0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { type: string; code: string; message: string; hint?: string; exitCode: number };
    assert.equal(last.type, 'error');
    assert.equal(last.code, 'api');
    assert.equal(last.exitCode, r.code);
    assert.match(last.message, /authentication failed \(401\)/);
    assert.ok(last.hint && last.hint.length > 0);
    // The terminal's one-line error is still on stderr; the key is in neither stream.
    assert.match(r.stderr, /^error: .*authentication failed/m);
    assert.doesNotMatch(r.stdout + r.stderr, /sk-json-err-key-123/);
  } finally {
    await server.close();
  }
});
