// Runs the fake OpenAI-compatible server as its own process (for benchmarks: the server must not share the
// event loop of the process being measured). Prints its URL on stdout, then serves until killed.
import { startFakeServer } from './fake-openai-server.js';

// Usage: fake-server-main.ts [latencyMs=200] [saturateAfter: the answer count at which the yield has halved; absent = steady]
const latency = Number(process.argv[2] ?? 200);
const saturateAfter = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const server = await startFakeServer({ latencyMs: latency, seed: 12345, ...(saturateAfter !== undefined ? { saturateAfter } : {}) });
process.stdout.write(`${server.url}\n`);
