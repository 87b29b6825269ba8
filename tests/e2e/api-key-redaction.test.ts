import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeServer } from '../helpers/fake-openai-server.js';
import { runCli, type RunResult } from '../helpers/cli.js';

// Servers that echo the key back ("Incorrect API key provided: sk-…") must not get it onto the terminal or disk.
const DEFAULT_KEY = 'sk-e2e-LEAKCHECK-0123456789abcdef';
// Not sk-shaped: only redaction of the configured value can catch it.
const CUSTOM_KEY = 'provider-LEAKCHECK-9f8e7d6c5b4a';

const workDir = () => mkdtempSync(join(tmpdir(), 'forge-redact-'));

/** Small retry/pause settings so a failing server ends the run in well under a second. */
function writeConfig(dir: string, apiKeyEnv?: string): string {
  const p = join(dir, 'forge.yaml');
  writeFileSync(p, `generation:\n  model: m\n  maxRetries: 1\n  pauseAfterFailures: 2\n  pauseSeconds: 0.05\n  maxPauses: 1\n  concurrency: 2\n${apiKeyEnv ? `  apiKeyEnv: ${apiKeyEnv}\n` : ''}`);
  return p;
}

/** Every byte the command left behind in its run directory (run.db, its WAL, the lock), as latin1 text. */
function runDirBytes(runDir: string): string {
  return readdirSync(runDir)
    .map((f) => readFileSync(join(runDir, f)).toString('latin1'))
    .join('\n');
}

function assertNoKey(key: string, r: RunResult, runDir: string, what: string): void {
  const fragment = key.slice(-12);
  for (const [where, text] of [['stdout', r.stdout], ['stderr', r.stderr], ['run directory', runDirBytes(runDir)]] as const) {
    assert.ok(!text.includes(fragment), `${what}: the key is in ${where}:\n${where === 'run directory' ? '(binary)' : text}`);
  }
}

const cases = [
  { status: 401, code: 6 },
  { status: 400, code: 6 },
  { status: 404, code: 6 },
  // 5xx is retried, then the gate gives up: the run stops resumable with exit 6.
  { status: 500, code: 6 },
];

for (const { status, code } of cases) {
  test(`generate: a key echoed in a ${status} is in neither output (text, --json) nor run.db, default and custom apiKeyEnv`, async () => {
    const server = await startFakeServer({ behave: () => ({ kind: 'echo-key', status }) });
    try {
      for (const mode of [
        { json: false, env: { OPENAI_API_KEY: DEFAULT_KEY }, key: DEFAULT_KEY, apiKeyEnv: undefined },
        { json: true, env: { MY_PROVIDER_KEY: CUSTOM_KEY, OPENAI_API_KEY: '' }, key: CUSTOM_KEY, apiKeyEnv: 'MY_PROVIDER_KEY' },
      ]) {
        const dir = workDir();
        const runDir = join(dir, 'run');
        const before = server.authHeaders.length;
        const r = await runCli(['generate', '--run', runDir, '--config', writeConfig(dir, mode.apiKeyEnv), '--base-url', server.url, '--target', '10', ...(mode.json ? ['--json'] : [])], { env: mode.env, cwd: dir });
        const what = `${status}${mode.json ? ' --json' : ''}`;
        assert.equal(r.code, code, `${what}: ${r.stderr}`);
        assert.equal(server.authHeaders[before], `Bearer ${mode.key}`, 'the key was sent, so the server had it to echo');
        assert.ok(readFileSync(join(runDir, 'run.db')).length > 0);
        assertNoKey(mode.key, r, runDir, what);
        if (status !== 500) assert.match(r.stderr, /Incorrect API key provided: \[redacted\]/, 'the server\'s message is still shown');
      }
    } finally {
      await server.close();
    }
  });
}

test('curate --judge: a key echoed in a 401 or a 500 is in neither output nor run.db', async () => {
  const good = await startFakeServer();
  const dir = workDir();
  const runDir = join(dir, 'run');
  const config = writeConfig(dir, 'MY_PROVIDER_KEY');
  // No retries and no giving up: every judge request that fails is recorded as failed, with its message.
  const judgeConfig = join(dir, 'judge.yaml');
  writeFileSync(judgeConfig, 'generation:\n  model: m\n  maxRetries: 0\n  pauseAfterFailures: 1000\n  apiKeyEnv: MY_PROVIDER_KEY\n');
  try {
    const made = await runCli(['generate', '--run', runDir, '--config', config, '--base-url', good.url, '--target', '10'], { env: { MY_PROVIDER_KEY: 'not-the-secret' }, cwd: dir });
    assert.equal(made.code, 0, made.stderr);
  } finally {
    await good.close();
  }
  for (const status of [401, 500]) {
    const server = await startFakeServer({ behave: () => ({ kind: 'echo-key', status }) });
    try {
      for (const json of [false, true]) {
        const r = await runCli(['curate', '--run', runDir, '--config', judgeConfig, '--judge', '--rejudge', '--base-url', server.url, ...(json ? ['--json'] : [])], { env: { MY_PROVIDER_KEY: CUSTOM_KEY }, cwd: dir });
        assert.ok(server.requests.length > 0, 'the judge called the server');
        if (status === 401) {
          assert.equal(r.code, 6, r.stderr);
          assert.match(r.stderr, /Incorrect API key provided: \[redacted\]/);
        }
        assert.doesNotMatch(r.stderr, /MaxListenersExceededWarning/);
        assertNoKey(CUSTOM_KEY, r, runDir, `judge ${status}${json ? ' --json' : ''}`);
      }
    } finally {
      await server.close();
    }
  }
  // The 500s were recorded as failed judge requests: the rows exist, without the key.
  assert.match(runDirBytes(runDir), /server error \(500\)/);
});
