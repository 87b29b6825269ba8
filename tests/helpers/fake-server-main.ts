// Runs the fake OpenAI-compatible server as its own process (for benchmarks: the server must not share the
// event loop of the process being measured). Prints its URL on stdout, then serves until killed.
import { startFakeServer } from './fake-openai-server.js';

// Usage: fake-server-main.ts [latencyMs=200] [saturateAfter: the answer count at which the yield has halved; absent or 0 = steady] [tasks|text=tasks: chat answers]
const latency = Number(process.argv[2] ?? 200);
const saturateAfter = process.argv[3] === undefined || Number(process.argv[3]) === 0 ? undefined : Number(process.argv[3]);
const answers = process.argv[4] === 'text' ? 'text' : 'tasks';
const server = await startFakeServer({ latencyMs: latency, seed: 12345, answers, ...(saturateAfter !== undefined ? { saturateAfter } : {}) });
process.stdout.write(`${server.url}\n`);
