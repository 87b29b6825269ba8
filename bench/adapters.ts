/**
 * Training speed of each PEFT adapter type against LoRA on the same model, one thread: forward + backward of one
 * micro-batch through the trainer's gradient pass (gradients read back), best of `--steps`. Virtual tokens add
 * `--virtual` positions to every sequence, so prompt-learning adapters pay for longer passes while training far
 * fewer parameters. The model is random, SmolLM2-135M-shaped by default (--layers/--hidden shrink it).
 *
 *   node --import tsx bench/adapters.ts [--backend wasm] [--shape 4x256] [--virtual 20] [--steps 2] [--layers 30]
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { loadModel } from '../src/model/load.js';
import { passGradientTensors } from '../src/train/engines/gradients.js';
import type { AdapterRuntime } from '../src/train/adapters/adapter-runtime.js';
import { LoraRuntime } from '../src/train/adapters/lora.js';
import { initLoraWeights } from '../src/train/adapters/lora-weights.js';
import { PromptRuntime } from '../src/train/adapters/prompt-runtime.js';
import { initPromptWeights, promptDims, promptParamCount, type PromptSpec } from '../src/train/adapters/prompt-spec.js';
import { projectionFeatures } from '../src/train/engines/plan.js';
import { writeTinyModel } from '../tests/helpers/tiny-model.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    shape: { type: 'string', default: '4x256' },
    virtual: { type: 'string', default: '20' },
    steps: { type: 'string', default: '2' },
    layers: { type: 'string', default: '30' },
    hidden: { type: 'string', default: '576' },
  },
});
const [B, T] = values.shape!.split('x').map(Number) as [number, number];
const P = Number(values.virtual);
const layers = Number(values.layers);
const hidden = Number(values.hidden);
await selectBackend(values.backend as BackendName);
const dir = join(tmpdir(), `forge-bench-adapters-${layers}x${hidden}`);
if (!existsSync(join(dir, 'config.json'))) {
  await writeTinyModel(dir, { arch: 'llama', hidden, layers, heads: 9, kvHeads: 3, intermediate: (hidden * 8) / 3, vocabSize: 49152, tied: true, dtype: 'BF16', seed: 1 });
}
const model = await loadModel(dir, { training: true });
const c = model.config;
const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => 1 + ((b * 131 + t * 17) % 4000)));
// Loss on the second half of each sequence, as a response would be.
const labels = ids.map((row) => row.map((id, t) => (t >= T / 2 ? id : -100)));

function timePasses(rt: AdapterRuntime): number {
  let best = Infinity;
  for (let i = 0; i < Number(values.steps); i++) {
    const t0 = performance.now();
    const { value, grads } = passGradientTensors(model, rt, { inputIds: ids, labels, dropoutSeed: i });
    grads.forEach((g) => g.dataSync());
    value.dataSync();
    tf.dispose([value, ...grads]);
    best = Math.min(best, performance.now() - t0);
  }
  return (B * T) / (best / 1000);
}

const lora = new LoraRuntime(initLoraWeights({ r: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'], useRslora: false }, { layers: c.numLayers, features: (_l, m) => projectionFeatures(c, m) }, 1));
const loraTps = timePasses(lora);
lora.dispose();
console.log(`lora r=8 q,v: ${loraTps.toFixed(0)} tokens/s`);
const specs: Array<[string, PromptSpec]> = [
  ['prompt-tuning', { kind: 'prompt-tuning', numVirtualTokens: P, encoderHiddenSize: null, prefixProjection: false, initText: null }],
  ['p-tuning', { kind: 'p-tuning', numVirtualTokens: P, encoderHiddenSize: null, prefixProjection: false, initText: null }],
  ['prefix-tuning', { kind: 'prefix-tuning', numVirtualTokens: P, encoderHiddenSize: null, prefixProjection: false, initText: null }],
];
const summary: string[] = [];
for (const [name, spec] of specs) {
  const rt = new PromptRuntime(initPromptWeights(spec, promptDims(c), 1));
  const tps = timePasses(rt);
  rt.dispose();
  console.log(`${name} (${P} virtual tokens, ${promptParamCount(spec, promptDims(c))} params): ${tps.toFixed(0)} tokens/s`);
  summary.push(`${name} ${(tps / loraTps).toFixed(2)}x`);
}
console.log(`adapters vs LoRA at ${B}x${T}, ${layers} layers, hidden ${hidden}, ${values.backend}: ${summary.join(', ')}`);
