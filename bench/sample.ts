/**
 * `sample` speed: one answer generated with KV-cache decoding (temperature 0.7, top-p 0.9) on a random
 * SmolLM2-135M-shaped model: prefill tokens/s and decode tokens/s (ms per new token).
 *
 *   node --import tsx bench/sample.ts [--backend native|wasm|webgpu|…] [--prompt 64] [--tokens 64] [--small]
 */
import { parseArgs } from 'node:util';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { generate } from '../src/model/generate.js';
import { loadModel } from '../src/model/load.js';
import { randomBenchModel } from './bench-model.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'native' },
    prompt: { type: 'string', default: '64' },
    tokens: { type: 'string', default: '64' },
    small: { type: 'boolean', default: false },
  },
});
const backend = await selectBackend(values.backend as BackendName);
console.error(`backend: ${backend.name} — ${backend.device}`);
const model = await loadModel(await randomBenchModel(values.small === true, (l) => console.error(l)));
const promptIds = Array.from({ length: Number(values.prompt) }, (_, i) => 3 + ((i * 37) % 250));
const opts = { maxNewTokens: Number(values.tokens), temperature: 0.7, topP: 0.9, seed: 1, stopIds: [] as number[] };
await generate(model, promptIds, { ...opts, maxNewTokens: 4 }); // warm-up
const cpu0 = process.cpuUsage();
const r = await generate(model, promptIds, opts);
const cpu = process.cpuUsage(cpu0);
model.dispose();
const decoded = Math.max(1, r.ids.length - 1); // the first new token comes from the prefill's logits
console.log(
  `sample ${promptIds.length}-token prompt + ${r.ids.length} new tokens (${backend.name}): prefill ${((promptIds.length / r.prefillMs) * 1000).toFixed(0)} tokens/s, ` +
    `decode ${((decoded / r.decodeMs) * 1000).toFixed(1)} tokens/s (${(r.decodeMs / decoded).toFixed(1)} ms/token; ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s of CPU in all)`,
);
