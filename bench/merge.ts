/**
 * `merge` speed: a LoRA adapter (r 16 on all seven projections, random non-zero B) merged into a random
 * SmolLM2-135M-shaped BF16 checkpoint and written as a new one: seconds, and the W += scale·B·A FLOP/s.
 *
 *   node --import tsx bench/merge.ts [--backend native|wasm|webgpu|…] [--r 16] [--small]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { loadModelConfig } from '../src/model/config.js';
import { mergeAdapter } from '../src/train/adapters/merge.js';
import { initLoraWeights } from '../src/train/adapters/lora-weights.js';
import { writeAdapter } from '../src/train/adapters/peft-files.js';
import { projectionFeatures } from '../src/train/engines/plan.js';
import { Rng } from '../src/train/rng.js';
import { randomBenchModel } from './bench-model.js';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'native' }, r: { type: 'string', default: '16' }, small: { type: 'boolean', default: false } } });
const backend = await selectBackend(values.backend as BackendName);
console.error(`backend: ${backend.name} — ${backend.device}`);
const modelDir = await randomBenchModel(values.small === true, (l) => console.error(l));
const c = loadModelConfig(modelDir);
const r = Number(values.r);
const w = initLoraWeights({ r, alpha: 2 * r, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false }, { layers: c.numLayers, features: (_l, m) => projectionFeatures(c, m) }, 1);
const rng = new Rng(2);
for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = rng.next() - 0.5;
const tmp = mkdtempSync(join(tmpdir(), 'bench-merge-'));
try {
  writeAdapter(join(tmp, 'adapter'), w, { baseModel: modelDir });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const res = await mergeAdapter({ model: modelDir, adapter: join(tmp, 'adapter'), out: join(tmp, 'merged') });
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const flops = w.entries.reduce((f, e) => f + 2 * e.inFeatures * e.outFeatures * r, 0);
  console.log(`merge r=${r} into ${res.mergedModules} projections of a ${c.numLayers}-layer model (${backend.name}): ${secs.toFixed(2)} s (${((cpu.user + cpu.system) / 1e6).toFixed(2)} s of CPU), ${(flops / 1e9).toFixed(1)} GFLOP of products`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
