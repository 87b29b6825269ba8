// Generation throughput against a local OpenAI-compatible server with fixed latency.
// Ideal wall time = requests × latency ÷ concurrency; we report the ratio to it and peak RSS.
// Usage: node --import tsx bench/generate.ts [target=52000] [concurrency=64] [latencyMs=200]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgeConfigSchema } from '../src/config/schema.js';
import { runGeneration } from '../src/generate/run-generation.js';
import { RunStore } from '../src/store/run-store.js';

const target = Number(process.argv[2] ?? 52000);
const concurrency = Number(process.argv[3] ?? 64);
const latencyMs = Number(process.argv[4] ?? 200);

const server = spawn(process.execPath, ['--import', 'tsx', 'tests/helpers/fake-server-main.ts', String(latencyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => server.kill());
const url = await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));

const dir = mkdtempSync(join(tmpdir(), 'forge-bench-'));
const runDir = join(dir, 'run');
const config = forgeConfigSchema.parse({
  generation: { baseUrl: url, model: 'bench', target, concurrency, seed: 7, timeoutMs: 30_000 },
  prices: { bench: { input: 0.15, output: 0.6 } },
});
const t0 = performance.now();
const outcome = await runGeneration({
  runDir,
  config,
  apiKey: 'sk-bench',
  signal: new AbortController().signal,
  onEvent: (e) => {
    if (e.type === 'progress' && e.kept > 0 && Math.floor(e.elapsedSec) % 5 === 0) process.stderr.write(`  ${e.kept}/${e.target} kept, ${e.requestsDone} requests\n`);
  },
  progressIntervalMs: 1000,
});
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage();
console.error(`cpu user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s`);
const store = RunStore.open(runDir);
const s = store.summary();
store.close();
server.kill();
rmSync(dir, { recursive: true, force: true });

const requests = s.requests.ok + s.requests.failed;
const ideal = (requests * latencyMs) / 1000 / concurrency;
const rssMb = process.resourceUsage().maxRSS / 1024;
const items = Object.values(s.byStatus).reduce((a, b) => a + b, 0);
console.log(`outcome: ${outcome.reason}, kept ${outcome.kept}, items ${items}, requests ${requests}, rejected ${JSON.stringify(s.byReason)}`);
console.log(
  `generate ${target} kept @ concurrency ${concurrency}, ${latencyMs} ms latency: ${wall.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, ratio ${(wall / ideal).toFixed(3)}), peak RSS ${rssMb.toFixed(0)} MB`,
);
