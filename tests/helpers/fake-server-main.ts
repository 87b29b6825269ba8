// Runs the fake OpenAI-compatible server as its own process (for benchmarks: the server must not share the
// event loop of the process being measured). Prints its URL on stdout, then serves until killed.
import { startFakeServer } from './fake-openai-server.js';

const latency = Number(process.argv[2] ?? 200);
const server = await startFakeServer({ latencyMs: latency, seed: 12345 });
process.stdout.write(`${server.url}\n`);
