// Generation throughput of the real `alpaca-forge generate` (the built binary, as users run it) against a local
// OpenAI-compatible server with fixed latency, each in its own process. Ideal wall time = requests × latency ÷
// concurrency; we report the ratio to it and the generate process's peak RSS (VmHWM, all threads).
// Two servers: a steady one (every answer is all new tasks) and a saturating one whose yield decays as
// 20 / (1 + n / (target / 70)), i.e. under one kept task per request by the end, as a real teacher's variety runs out.
// The method (self-instruct, evol, magpie) is the sixth argument: evol evolves a generated input file of target/3
// items over 3 rounds; magpie sends the llama3 pre-query to /v1/completions. Their chat answers are plain text, and on
// the saturating server their instructions repeat as its variety runs out (per text, after 20x as many texts as
// self-instruct's answers, since each of those holds 20 tasks), which the run's dedup rejects.
// Usage: npm run build && node --import tsx bench/generate.ts [target=52000] [concurrency=64] [latencyMs=200] [steady|saturating|both=both] [self-instruct|evol|magpie]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../src/store/run-store.js';
import { assertBuilt, spawnCli } from '../tests/helpers/cli.js';

const target = Number(process.argv[2] ?? 52000);
const concurrency = Number(process.argv[3] ?? 64);
const latencyMs = Number(process.argv[4] ?? 200);
const which = process.argv[5] ?? 'both';
const method = process.argv[6] ?? 'self-instruct';
assertBuilt();

async function benchOnce(kind: 'steady' | 'saturating'): Promise<string> {
  // Saturation counts answers of 20 tasks for self-instruct but single texts for evol and magpie: theirs halves after
  // as many texts as self-instruct's does after tasks (20 per answer), so both teachers run out of variety alike.
  const saturateAfter = (target / 70) * (method === 'self-instruct' ? 1 : 20);
  const serverArgs = ['--import', 'tsx', 'tests/helpers/fake-server-main.ts', String(latencyMs), kind === 'saturating' ? String(saturateAfter) : '0', method === 'self-instruct' ? 'tasks' : 'text'];
  const server = spawn(process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  const killServer = () => server.kill();
  process.on('exit', killServer);
  const url = await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));

  const dir = mkdtempSync(join(tmpdir(), 'forge-bench-'));
  const runDir = join(dir, 'run');
  const methodArgs: string[] = [];
  if (method === 'evol') {
    const from = join(dir, 'input.jsonl');
    const words = ['tide', 'loom', 'vault', 'prism', 'quill', 'ember', 'delta', 'fjord', 'gale', 'harbor', 'ivory', 'jade'];
    const rows = Array.from({ length: Math.ceil(target / 3) }, (_, i) => JSON.stringify({ instruction: `Explain ${words[i % 12]} ${words[Math.floor(i / 12) % 12]} ${words[Math.floor(i / 144) % 12]} number ${i}.`, input: '', output: 'An explanation.' }));
    writeFileSync(from, rows.join('\n') + '\n');
    methodArgs.push('--method', 'evol', '--from', from, '--rounds', '3');
  } else if (method === 'magpie') methodArgs.push('--method', 'magpie', '--template', 'llama3');
  const args = ['generate', '--run', runDir, '--target', String(target), '--concurrency', String(concurrency), '--base-url', url, '--model', 'bench', '--seed', '7', '--json', ...methodArgs];
  const t0 = performance.now();
  const cli = spawnCli(args, { env: { OPENAI_API_KEY: 'sk-bench' } });
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${cli.child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 100);
  const { code, stdout } = await cli.exited;
  const wall = (performance.now() - t0) / 1000;
  clearInterval(poll);
  server.kill();
  process.off('exit', killServer);
  if (code !== 0) throw new Error(`generate exited with ${code}: ${stdout.trim().split('\n').at(-1) ?? ''}`);

  const store = RunStore.open(runDir);
  const s = store.summary();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  const requests = s.requests.ok + s.requests.failed;
  const ideal = (requests * latencyMs) / 1000 / concurrency;
  const items = Object.values(s.byStatus).reduce((a, b) => a + b, 0);
  console.log(`${kind}: kept ${s.byStatus['kept'] ?? 0}, items ${items}, requests ${requests}, rejected ${JSON.stringify(s.byReason)}`);
  // The engine's own clock (from its first request to its last commit) leaves out process start-up, which on a
  // loaded machine is seconds of the wall time.
  const engine = s.elapsedMs / 1000;
  return `${kind} server: ${wall.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, ratio ${(wall / ideal).toFixed(3)}; engine ${engine.toFixed(2)} s, ratio ${(engine / ideal).toFixed(3)}; ${requests} requests), peak RSS ${(peakKb / 1024).toFixed(0)} MB`;
}

const kinds = which === 'both' ? (['steady', 'saturating'] as const) : ([which] as Array<'steady' | 'saturating'>);
const results: string[] = [];
for (const kind of kinds) results.push(await benchOnce(kind));
console.log(`generate${method === 'self-instruct' ? '' : ` --method ${method}`} ${target} kept @ concurrency ${concurrency}, ${latencyMs} ms latency: ${results.join('; ')}`);
