/**
 * `score` speed: mean response NLL of N Alpaca samples through scoreSamples (length-sorted batches, one forward
 * pass each, logits only for response rows) on a random SmolLM2-135M-shaped model, in tokens/s of whole sequences.
 *
 *   node --import tsx bench/score.ts [--backend native|wasm|webgpu|…] [--samples 64] [--batch 8] [--cutoff 256] [--small]
 */
import { parseArgs } from 'node:util';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { encodeExample } from '../src/model/encode-example.js';
import { loadModel } from '../src/model/load.js';
import { scoreSamples } from '../src/model/score-samples.js';
import { seededRandom } from '../src/random.js';
import { randomBenchModel } from './bench-model.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'native' },
    samples: { type: 'string', default: '64' },
    batch: { type: 'string', default: '8' },
    cutoff: { type: 'string', default: '256' },
    small: { type: 'boolean', default: false },
  },
});
const n = Number(values.samples);
const cutoffLen = Number(values.cutoff);
const backend = await selectBackend(values.backend as BackendName);
console.error(`backend: ${backend.name} — ${backend.device}`);
const model = await loadModel(await randomBenchModel(values.small === true, (l) => console.error(l)));

// Word salad of varied lengths: the byte-level tokenizer makes about one token per character.
const rand = seededRandom(7);
const words = ['data', 'model', 'answer', 'the', 'of', 'question', 'list', 'explain', 'why', 'three', 'short', 'a'];
const text = (k: number) => Array.from({ length: k }, () => words[Math.floor(rand() * words.length)]).join(' ');
const samples = Array.from({ length: n }, (_, i) => ({ instruction: text(6 + (i % 10)), input: '', output: text(10 + ((i * 7) % 40)) }));
const tokens = samples.reduce((t, s) => t + encodeExample(model.tokenizer, s, { cutoffLen }).inputIds.length, 0);

await scoreSamples(model, samples.slice(0, Number(values.batch)), { batchSize: Number(values.batch), cutoffLen }); // warm-up
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const scores = await scoreSamples(model, samples, { batchSize: Number(values.batch), cutoffLen });
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
model.dispose();
const mean = scores.reduce((a, s) => a + s.nll, 0) / scores.length;
console.log(`score ${n} samples (${tokens} tokens, batch ${values.batch}, ${backend.name}): ${secs.toFixed(2)} s (${((cpu.user + cpu.system) / 1e6).toFixed(2)} s of CPU), ${(tokens / secs).toFixed(0)} tokens/s (mean NLL ${mean.toFixed(3)})`);
