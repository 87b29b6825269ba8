/**
 * Forward-pass speed of a SmolLM2-135M-shaped model (30 layers, hidden 576, 9 heads / 3 KV heads, intermediate
 * 1536, vocab 49152, tied embeddings) with random weights: prefill and KV-cache decode tokens/s, printed beside the
 * backend's measured matMul GFLOP/s in the same run.
 *
 *   node --import tsx bench/forward.ts [--backend wasm] [--prompt 128] [--decode 32] [--batch 1]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendName } from '../src/model/backend.js';
import { parseModelConfig } from '../src/model/config.js';
import { buildRope } from '../src/model/rope.js';
import { forwardHidden, lmHead } from '../src/model/llama.js';
import { KVCache } from '../src/model/kv-cache.js';
import { TARGET_MODULES, type FrozenLinear, type LlamaLayer, type LlamaModel, type TargetModule } from '../src/model/load.js';
import type { Tokenizer } from '../src/model/tokenizer.js';

const { values } = parseArgs({
  options: { backend: { type: 'string', default: 'wasm' }, prompt: { type: 'string', default: '128' }, decode: { type: 'string', default: '32' }, batch: { type: 'string', default: '1' } },
});
const promptLen = Number(values.prompt);
const decodeLen = Number(values.decode);
const batch = Number(values.batch);

const backend = await selectBackend(values.backend as BackendName);
console.error(`backend: ${backend.name} — ${backend.device}`);

const config = parseModelConfig({
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  vocab_size: 49152,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
});

/** The same tensors loadModel would make (Wᵀ layout, tied head), filled with random values instead of a file. */
function randomModel(): LlamaModel {
  const owned: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T) => (owned.push(t), t);
  const H = config.hiddenSize;
  const lin = (inF: number, outF: number): FrozenLinear => ({ inFeatures: inF, outFeatures: outF, wT: keep(tf.randomNormal([inF, outF], 0, 1 / Math.sqrt(inF)) as tf.Tensor2D), w: null, bias: null, packed: null });
  const out: Record<TargetModule, [number, number]> = {
    q_proj: [H, config.numHeads * config.headDim],
    k_proj: [H, config.numKvHeads * config.headDim],
    v_proj: [H, config.numKvHeads * config.headDim],
    o_proj: [config.numHeads * config.headDim, H],
    gate_proj: [H, config.intermediateSize],
    up_proj: [H, config.intermediateSize],
    down_proj: [config.intermediateSize, H],
  };
  const layers: LlamaLayer[] = Array.from({ length: config.numLayers }, () => ({
    inputNorm: keep(tf.ones([H])),
    postAttentionNorm: keep(tf.ones([H])),
    qNorm: null,
    kNorm: null,
    proj: Object.fromEntries(TARGET_MODULES.map((m) => [m, lin(...out[m])])) as Record<TargetModule, FrozenLinear>,
  }));
  return {
    dir: '(random)',
    config,
    tokenizer: { bosId: 1, eosId: 2, padId: 2, addBosDefault: true, size: config.vocabSize, encode: () => [], decode: () => '' } satisfies Tokenizer,
    generationConfig: { eosTokenIds: [2], bosTokenId: 1, padTokenId: null, temperature: undefined, topP: undefined, topK: undefined, doSample: undefined, maxNewTokens: undefined },
    embedTable: null,
    head: { inFeatures: H, outFeatures: config.vocabSize, starts: [0], blocks: [{ inFeatures: H, outFeatures: config.vocabSize, wT: keep(tf.randomNormal([H, config.vocabSize], 0, 0.05) as tf.Tensor2D), w: null, bias: null, packed: null }] },
    finalNorm: keep(tf.ones([H])),
    layers,
    rope: buildRope(config),
    training: false,
    baseWeights: 'f32',
    gradientCheckpointing: false,
    dispose: () => tf.dispose(owned),
  };
}

function gflops(a: [number, number], b: [number, number], transposeB: boolean, reps: number): number {
  const x = tf.randomNormal(a);
  const y = tf.randomNormal(b);
  const once = () => {
    const r = tf.matMul(x, y, false, transposeB);
    r.dataSync();
    r.dispose();
  };
  once();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) once();
  const secs = (performance.now() - t0) / 1000 / reps;
  tf.dispose([x, y]);
  return (2 * a[0] * a[1] * (transposeB ? b[0] : b[1])) / secs / 1e9;
}

const matmul = gflops([1024, 576], [576, 1536], false, 5);
const matmulT = gflops([1024, 576], [1536, 576], true, 2);
const matvec = gflops([1, 576], [576, 1536], false, 50);
console.error(`matMul [1024,576]x[576,1536]: ${matmul.toFixed(1)} GFLOP/s; with transposeB: ${matmulT.toFixed(1)} GFLOP/s; [1,576]x[576,1536]: ${matvec.toFixed(1)} GFLOP/s`);

const model = randomModel();
const layerParams = 30 * (576 * 576 * 2 + 576 * 192 * 2 + 576 * 1536 * 3);
const headParams = 49152 * 576;
const params = layerParams + headParams;
console.error(`model: ${(params / 1e6).toFixed(1)} M parameters, ${tf.memory().numTensors} tensors`);

const ids = Array.from({ length: batch }, (_, b) => Array.from({ length: promptLen }, (_, t) => (b * 7919 + t * 104729) % config.vocabSize));

/** Prefill: the whole prompt through the stack, logits of the last position (what generation needs). */
function prefill(cache: KVCache): number {
  const t0 = performance.now();
  const logits = tf.tidy(() => {
    const h = forwardHidden(model, tf.tensor2d(ids, [batch, promptLen], 'int32'), { cache });
    return lmHead(model, tf.reshape(tf.slice(h, [0, promptLen - 1, 0], [batch, 1, -1]), [batch, config.hiddenSize]) as tf.Tensor2D);
  });
  logits.dataSync();
  logits.dispose();
  return performance.now() - t0;
}

// Warm-up (kernel setup, first allocations), then measure.
const warm = new KVCache();
prefill(warm);
warm.dispose();
const cache = new KVCache();
const prefillMs = prefill(cache);
const prefillTps = (batch * promptLen) / (prefillMs / 1000);
console.error(`prefill ${batch}x${promptLen} tokens: ${(prefillMs / 1000).toFixed(2)} s = ${prefillTps.toFixed(0)} tokens/s (${((2 * (layerParams * promptLen + headParams) * batch) / (prefillMs / 1000) / 1e9).toFixed(1)} GFLOP/s of weight matMuls)`);

const before = tf.memory().numTensors;
const t0 = performance.now();
let next = ids.map((row) => row[promptLen - 1]!);
for (let i = 0; i < decodeLen; i++) {
  const logits = tf.tidy(() => lmHead(model, tf.reshape(forwardHidden(model, tf.tensor2d(next.map((n) => [n]), [batch, 1], 'int32'), { cache }), [batch, config.hiddenSize]) as tf.Tensor2D));
  const data = logits.dataSync();
  logits.dispose();
  next = next.map((_, b) => {
    let best = 0;
    for (let v = 1; v < config.vocabSize; v++) if (data[b * config.vocabSize + v]! > data[b * config.vocabSize + best]!) best = v;
    return best;
  });
}
const decodeMs = performance.now() - t0;
const decodeTps = (batch * decodeLen) / (decodeMs / 1000);
console.error(`decode ${decodeLen} steps after ${promptLen} (batch ${batch}): ${(decodeMs / decodeLen).toFixed(1)} ms/step = ${decodeTps.toFixed(1)} tokens/s (${((2 * params * batch * decodeLen) / (decodeMs / 1000) / 1e9).toFixed(1)} GFLOP/s); tensors before/after: ${before}/${tf.memory().numTensors}`);
cache.dispose();
model.dispose();

console.log(
  `forward SmolLM2-135M shape on ${backend.name}: prefill ${prefillTps.toFixed(0)} tokens/s (${batch}x${promptLen}), decode ${decodeTps.toFixed(1)} tokens/s; matMul ${matmul.toFixed(1)} GFLOP/s (transposeB ${matmulT.toFixed(1)}, matvec ${matvec.toFixed(1)})`,
);
