/**
 * `sample` speed: answers generated with KV-cache decoding (temperature 0.7, top-p 0.9) on a random
 * SmolLM2-135M-shaped model: prefill tokens/s and decode tokens/s (ms per step). `--batch N` decodes N prompts
 * together, as `sample --data --batch-size N` and PPO's rollouts do; the figures then count every row's tokens.
 *
 *   node --import tsx bench/sample.ts [--backend native|wasm|webgpu|…] [--prompt 64] [--tokens 64] [--batch 1] [--small]
 */
import { parseArgs } from 'node:util';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { generate, generateBatch } from '../src/model/generate.js';
import { loadModel } from '../src/model/load.js';
import { randomBenchModel } from './bench-model.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'native' },
    prompt: { type: 'string', default: '64' },
    tokens: { type: 'string', default: '64' },
    batch: { type: 'string', default: '1' },
    small: { type: 'boolean', default: false },
  },
});
const backend = await selectBackend(values.backend as BackendName);
console.error(`backend: ${backend.name} — ${backend.device}`);
const model = await loadModel(await randomBenchModel(values.small === true, (l) => console.error(l)));
const promptIds = Array.from({ length: Number(values.prompt) }, (_, i) => 3 + ((i * 37) % 250));
const opts = { maxNewTokens: Number(values.tokens), temperature: 0.7, topP: 0.9, seed: 1, stopIds: [] as number[] };
await generate(model, promptIds, { ...opts, maxNewTokens: 4 }); // warm-up
const B = Number(values.batch);
const cpu0 = process.cpuUsage();
const rs = await generateBatch(model, Array.from({ length: B }, () => promptIds), { ...opts, seeds: Array.from({ length: B }, (_, i) => 1 + i) });
const cpu = process.cpuUsage(cpu0);
model.dispose();
const r = rs[0]!;
// The first new token of each row comes from the prefill's logits; rows run for the same number of steps here.
const steps = Math.max(1, Math.max(...rs.map((x) => x.ids.length)) - 1);
const decoded = rs.reduce((n, x) => n + Math.max(0, x.ids.length - 1), 0);
console.log(
  `sample ${B} × (${promptIds.length}-token prompt + ${r.ids.length} new tokens) (${backend.name}): prefill ${((B * promptIds.length) / r.prefillMs * 1000).toFixed(0)} tokens/s, ` +
    `decode ${((decoded / r.decodeMs) * 1000).toFixed(1)} tokens/s (${(r.decodeMs / steps).toFixed(1)} ms/step; ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s of CPU in all)`,
);
