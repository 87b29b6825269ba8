import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/model/backend.js';
import { loadModel, type LlamaModel } from '../../../src/model/load.js';
import { forwardHidden, lmHead, adapterOptions, type AdapterHooks } from '../../../src/model/llama.js';
import { KVCache } from '../../../src/model/kv-cache.js';
import { encodeExample } from '../../../src/model/encode-example.js';
import { responseNllSum } from '../../../src/model/loss.js';
import { leanVariableGrads } from '../../../src/train/engines/lean-grads.js';
import { AdamW } from '../../../src/train/adamw.js';
import { PromptRuntime } from '../../../src/train/adapters/prompt-runtime.js';
import { initPromptWeights, promptDims, type PromptSpec, type PromptWeights } from '../../../src/train/adapters/prompt-spec.js';
import type { TinyModelInfo } from '../../helpers/tiny-model.js';
import { referenceLogits, type ReferenceVirtual } from '../../model/reference.js';
import { SAMPLES, tempDir, tinyModel } from '../fixtures.js';

let info: TinyModelInfo;
let model: LlamaModel;
before(async () => {
  await selectBackend('wasm');
  info = await tinyModel(tempDir('prompt'));
  model = await loadModel(info.dir, { training: true });
});

const SPECS: Record<string, PromptSpec> = {
  'prompt tuning': { kind: 'prompt-tuning', numVirtualTokens: 3, encoderHiddenSize: null, prefixProjection: false, initText: null },
  'P-tuning (MLP encoder)': { kind: 'p-tuning', numVirtualTokens: 3, encoderHiddenSize: 8, prefixProjection: false, initText: null },
  'P-tuning (LSTM encoder)': { kind: 'p-tuning', numVirtualTokens: 3, encoderHiddenSize: 6, prefixProjection: false, initText: null, encoderType: 'LSTM', encoderNumLayers: 2 },
  'prefix tuning': { kind: 'prefix-tuning', numVirtualTokens: 3, encoderHiddenSize: null, prefixProjection: false, initText: null },
  'prefix tuning with projection': { kind: 'prefix-tuning', numVirtualTokens: 3, encoderHiddenSize: 8, prefixProjection: true, initText: null },
};

// ---- Plain-arithmetic reference of PEFT's encoders, written from peft/tuners/{p_tuning,prefix_tuning}/model.py.

/** nn.Linear: y[n, out] = x[n, in] · W[out, in]ᵀ + b. */
function linear(x: number[][], W: Float32Array, b: Float32Array): number[][] {
  const out = b.length;
  const inF = W.length / out;
  return x.map((row) => Array.from({ length: out }, (_, o) => {
    let s = b[o]!;
    for (let i = 0; i < inF; i++) s += row[i]! * W[o * inF + i]!;
    return s;
  }));
}

function rows(data: Float32Array, width: number): number[][] {
  return Array.from({ length: data.length / width }, (_, r) => Array.from(data.subarray(r * width, (r + 1) * width)));
}

/** What the encoder outputs per virtual token (PEFT's forward of PromptEmbedding / PromptEncoder / PrefixEncoder). */
function referenceEncoder(w: PromptWeights): number[][] {
  const p = Object.fromEntries(w.params.map((t) => [t.name, t.data]));
  const e = rows(p['embedding.weight']!, w.params[0]!.shape[1]!);
  if (w.spec.kind === 'p-tuning' && w.spec.encoderType === 'LSTM') {
    const relu = (m: number[][]) => m.map((r) => r.map((v) => Math.max(0, v)));
    const out = referenceLstm(e, w.spec.encoderNumLayers ?? 2, w.spec.encoderHiddenSize!, p);
    return linear(relu(linear(out, p['mlp_head.0.weight']!, p['mlp_head.0.bias']!)), p['mlp_head.2.weight']!, p['mlp_head.2.bias']!);
  }
  if (w.spec.kind === 'p-tuning') {
    const relu = (m: number[][]) => m.map((r) => r.map((v) => Math.max(0, v)));
    const h1 = relu(linear(e, p['mlp_head.0.weight']!, p['mlp_head.0.bias']!));
    const h2 = relu(linear(h1, p['mlp_head.2.weight']!, p['mlp_head.2.bias']!));
    return linear(h2, p['mlp_head.4.weight']!, p['mlp_head.4.bias']!);
  }
  if (w.spec.kind === 'prefix-tuning' && w.spec.prefixProjection) {
    const h = linear(e, p['transform.0.weight']!, p['transform.0.bias']!).map((r) => r.map(Math.tanh));
    return linear(h, p['transform.2.weight']!, p['transform.2.bias']!);
  }
  return e;
}

/**
 * torch.nn.LSTM(bidirectional=True, batch_first=True) in loops, zero initial state, as PyTorch documents it:
 * i, f, g, o = σ(W_ii x + b_ii + W_hi h + b_hi), σ(…f…), tanh(…g…), σ(…o…) (rows of W_ih/W_hh in that order);
 * c' = f c + i g; h' = o tanh(c'). Layer l's input is layer l−1's [forward h, reverse h].
 */
function referenceLstm(x: number[][], layers: number, H: number, p: Record<string, Float32Array>): number[][] {
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  let input = x;
  for (let l = 0; l < layers; l++) {
    const run = (sfx: string, order: number[]) => {
      const wIh = p[`lstm_head.weight_ih_l${l}${sfx}`]!;
      const wHh = p[`lstm_head.weight_hh_l${l}${sfx}`]!;
      const bIh = p[`lstm_head.bias_ih_l${l}${sfx}`]!;
      const bHh = p[`lstm_head.bias_hh_l${l}${sfx}`]!;
      const inF = wIh.length / (4 * H);
      let h = new Array<number>(H).fill(0);
      let c = new Array<number>(H).fill(0);
      const out: number[][] = new Array(x.length);
      for (const t of order) {
        const gate = (k: number, j: number) => {
          const row = k * H + j;
          let s = bIh[row]! + bHh[row]!;
          for (let i = 0; i < inF; i++) s += wIh[row * inF + i]! * input[t]![i]!;
          for (let i = 0; i < H; i++) s += wHh[row * H + i]! * h[i]!;
          return s;
        };
        const next = Array.from({ length: H }, (_, j) => {
          const ig = sigmoid(gate(0, j));
          const fg = sigmoid(gate(1, j));
          const gg = Math.tanh(gate(2, j));
          const og = sigmoid(gate(3, j));
          const cj = fg * c[j]! + ig * gg;
          return { c: cj, h: og * Math.tanh(cj) };
        });
        c = next.map((n) => n.c);
        h = next.map((n) => n.h);
        out[t] = h;
      }
      return out;
    };
    const idx = x.map((_, t) => t);
    const fwd = run('', idx);
    const bwd = run('_reverse', [...idx].reverse());
    input = fwd.map((row, t) => [...row, ...bwd[t]!]);
  }
  return input;
}

/**
 * PEFT's get_prompt for prefix tuning in loops: the [P, layers·2·kv·hd] output viewed as [P, layers·2, kv, hd],
 * permuted to [layers·2, kv, P, hd]; entry 2l is layer l's keys, 2l+1 its values.
 */
function referenceVirtual(w: PromptWeights): ReferenceVirtual {
  const out = referenceEncoder(w);
  const P = w.spec.numVirtualTokens;
  if (w.spec.kind !== 'prefix-tuning') return { count: P, embeddings: out.flat() };
  const { numLayers: L, numKvHeads: kv, headDim: hd } = w.dims;
  const pick = (j: number) => {
    const a = new Float64Array(kv * P * hd);
    for (let h = 0; h < kv; h++) for (let t = 0; t < P; t++) for (let d = 0; d < hd; d++) a[(h * P + t) * hd + d] = out[t]![(j * kv + h) * hd + d]!;
    return a;
  };
  return { count: P, prefix: Array.from({ length: L }, (_, l) => ({ k: pick(2 * l), v: pick(2 * l + 1) })) };
}

function logitsOf(ids: number[][], hooks: AdapterHooks, mask?: number[][]): { data: Float32Array; T: number } {
  const B = ids.length;
  const t = tf.tidy(() => {
    const hidden = forwardHidden(model, tf.tensor2d(ids, [B, ids[0]!.length], 'int32'), { ...adapterOptions(hooks), ...(mask ? { attentionMask: mask } : {}) });
    return { T: tf.scalar(hidden.shape[1]), logits: lmHead(model, tf.reshape(hidden, [-1, model.config.hiddenSize]) as tf.Tensor2D) };
  });
  const out = { data: t.logits.dataSync() as Float32Array, T: t.T.dataSync()[0]! };
  tf.dispose([t.logits, t.T]);
  return out;
}

function relErr(ours: Float32Array, offset: number, ref: Float64Array[]): number {
  let diff = 0;
  let scale = 0;
  ref.forEach((row, t) => row.forEach((r, v) => {
    diff = Math.max(diff, Math.abs(ours[offset + t * row.length + v]! - r));
    scale = Math.max(scale, Math.abs(r));
  }));
  return diff / scale;
}

function weightsFor(spec: PromptSpec, seed = 3): PromptWeights {
  const w = initPromptWeights(spec, promptDims(model.config), seed);
  // Unit-normal prefixes and prompts swamp a 32-wide toy model's attention; smaller ones keep every path visible.
  for (const p of w.params) if (p.name === 'embedding.weight') for (let i = 0; i < p.data.length; i++) p.data[i]! *= 0.3;
  return w;
}

const seqA = [1, 40, 41, 72, 101, 33, 7];
const seqB = [1, 90, 12, 55];

for (const [name, spec] of Object.entries(SPECS)) {
  test(`${name}: the forward pass equals the plain-arithmetic reference, padded rows included`, () => {
    const w = weightsFor(spec);
    const rt = new PromptRuntime(w);
    try {
      const virtual = referenceVirtual(w);
      const V = model.config.vocabSize;
      const lead = spec.kind === 'prefix-tuning' ? 0 : spec.numVirtualTokens;
      const single = logitsOf([seqA], rt.hook());
      assert.equal(single.T, lead + seqA.length);
      const refA = referenceLogits(info, seqA, virtual);
      assert.ok(relErr(single.data, 0, refA) < 1e-4, `single row: ${relErr(single.data, 0, refA)}`);
      // Right-padded batch: row B's real positions must not see its padding.
      const pad = model.tokenizer.padId;
      const padded = [seqA, [...seqB, ...new Array<number>(seqA.length - seqB.length).fill(pad)]];
      const mask = padded.map((r, b) => r.map((_, t) => (t < (b === 0 ? seqA.length : seqB.length) ? 1 : 0)));
      const batch = logitsOf(padded, rt.hook(), mask);
      const refB = referenceLogits(info, seqB, virtual);
      assert.ok(relErr(batch.data, 0, refA) < 1e-4);
      assert.ok(relErr(batch.data, batch.T * V, refB) < 1e-4, `padded row: ${relErr(batch.data, batch.T * V, refB)}`);
      // And the adapter changes the logits (the test would pass vacuously otherwise).
      assert.ok(relErr(single.data, lead * V, referenceLogits(info, seqA)) > 1e-3);
    } finally {
      rt.dispose();
    }
  });

  test(`${name}: KV-cache decoding gives the full pass's last logits (virtual tokens join at the prefill)`, () => {
    const rt = new PromptRuntime(weightsFor(spec));
    const cache = new KVCache();
    try {
      const hooks = adapterOptions(rt.hook());
      const last = (h: tf.Tensor3D) => lmHead(model, tf.reshape(tf.slice(h, [0, h.shape[1] - 1, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D);
      const full = tf.tidy(() => last(forwardHidden(model, tf.tensor2d([seqA], [1, seqA.length], 'int32'), hooks))).dataSync();
      tf.tidy(() => forwardHidden(model, tf.tensor2d([seqA.slice(0, 4)], [1, 4], 'int32'), { ...hooks, cache }));
      tf.tidy(() => forwardHidden(model, tf.tensor2d([seqA.slice(4, 6)], [1, 2], 'int32'), { ...hooks, cache }));
      const step = tf.tidy(() => last(forwardHidden(model, tf.tensor2d([seqA.slice(6)], [1, 1], 'int32'), { ...hooks, cache }))).dataSync();
      assert.equal(cache.length, spec.numVirtualTokens + seqA.length);
      let diff = 0;
      full.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - step[i]!))));
      assert.ok(diff < 1e-4, `cached vs full: ${diff}`);
    } finally {
      cache.dispose();
      rt.dispose();
    }
  });

  test(`${name}: gradients match central finite differences`, () => {
    const w = weightsFor(spec, 8);
    const rt = new PromptRuntime(w);
    try {
      const enc = SAMPLES.slice(0, 2).map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256, trainOnInputs: true }));
      const batch = { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) };
      const { value, grads } = leanVariableGrads(() => responseNllSum(model, batch, rt.hook()), rt.variables);
      const g = grads.map((t) => t.dataSync() as Float32Array);
      tf.dispose([value, ...grads]);
      const base = w.params.map((p) => p.data);
      const f = (dir: Float32Array[], eps: number) => {
        rt.assign(base.map((p, k) => p.map((x, i) => x + eps * dir[k]![i]!)));
        const t = responseNllSum(model, batch, rt.hook());
        const v = t.dataSync()[0]!;
        t.dispose();
        return v;
      };
      // Directional derivatives (f(θ + εd) − f(θ − εd)) / 2ε against g·d: per coordinate, the summed NLL's float32
      // rounding swamps the quotient (measured: it wanders by 5% at ε = 1e-2 while both gradient engines agree to
      // 1e-6); along a unit direction a step of 0.1 moves each coordinate little and the loss measurably. Each
      // tensor is checked along its own gradient (the magnitude) and along a random direction (the orientation).
      const eps = 0.1;
      let state = 12345;
      const rand = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
      w.params.forEach((p, k) => {
        const zero = base.map((b) => new Float32Array(b.length));
        for (const kind of ['gradient', 'random'] as const) {
          const dir = zero.map((z) => z.slice());
          dir[k] = kind === 'gradient' ? g[k]!.slice() : g[k]!.map(() => rand());
          const norm = Math.hypot(...dir[k]!);
          if (norm === 0) continue;
          dir[k] = dir[k]!.map((x) => x / norm);
          // Steep directions get a shorter step. P-tuning's ReLUs have kinks: one inside a step spoils that quotient,
          // so shorter steps are tried too and the closest quotient counts (a wrong gradient matches none).
          const an = dir[k]!.reduce((sum, x, i) => sum + x * g[k]![i]!, 0);
          const step = eps / Math.max(1, Math.abs(an) / 5);
          const quotient = (h: number) => (f(dir, h) - f(dir, -h)) / (2 * h);
          const close = (q: number) => Math.abs(q - an) <= 0.05 * Math.abs(an) + 0.02;
          let fd = quotient(step);
          for (const shorter of [step / 3, step / 10]) if (!close(fd)) fd = quotient(shorter);
          assert.ok(close(fd), `${p.name} along its ${kind} direction: finite difference ${fd}, gradient ${an}`);
        }
        assert.ok(g[k]!.some((x) => x !== 0), `${p.name} receives gradient`);
      });
    } finally {
      rt.dispose();
    }
  });
}

test('a few AdamW steps lower the NLL for every prompt-learning adapter', async () => {
  const enc = SAMPLES.slice(0, 3).map((s) => encodeExample(model.tokenizer, s, { cutoffLen: 256 }));
  const batch = { inputIds: enc.map((e) => e.inputIds), labels: enc.map((e) => e.labels) };
  for (const [name, spec] of Object.entries(SPECS)) {
    const w = weightsFor(spec, 5);
    const rt = new PromptRuntime(w);
    try {
      const params = w.params.map((p) => p.data);
      const opt = new AdamW(params.map((p) => p.length));
      const nll = (): number => {
        const t = responseNllSum(model, batch, rt.hook());
        const v = t.dataSync()[0]!;
        t.dispose();
        return v;
      };
      const before = nll();
      for (let step = 0; step < 10; step++) {
        const { value, grads } = leanVariableGrads(() => responseNllSum(model, batch, rt.hook()), rt.variables);
        const g = grads.map((t) => new Float32Array(t.dataSync() as Float32Array));
        tf.dispose([value, ...grads]);
        opt.step(params, g, 0.1);
        rt.assign(params);
      }
      const after = nll();
      assert.ok(after < 0.97 * before, `${name}: NLL ${before.toFixed(2)} → ${after.toFixed(2)}`);
    } finally {
      rt.dispose();
    }
  }
});

test("P-tuning's LSTM encoder has PEFT's parameter names and shapes, and its adapter_config says LSTM", async () => {
  const { paramShapes } = await import('../../../src/train/adapters/prompt-spec.js');
  const { promptConfigJson } = await import('../../../src/train/adapters/prompt-files.js');
  const spec = SPECS['P-tuning (LSTM encoder)']!;
  const d = promptDims(model.config);
  // hidden 32 (token_dim), LSTM width 6, 2 layers, bidirectional: torch's state_dict of PromptEncoder.
  const want: Array<[string, number[]]> = [['embedding.weight', [3, 32]]];
  for (const l of [0, 1]) for (const sfx of ['', '_reverse']) {
    want.push([`lstm_head.weight_ih_l${l}${sfx}`, [24, l === 0 ? 32 : 12]], [`lstm_head.weight_hh_l${l}${sfx}`, [24, 6]], [`lstm_head.bias_ih_l${l}${sfx}`, [24]], [`lstm_head.bias_hh_l${l}${sfx}`, [24]]);
  }
  want.push(['mlp_head.0.weight', [12, 12]], ['mlp_head.0.bias', [12]], ['mlp_head.2.weight', [32, 12]], ['mlp_head.2.bias', [32]]);
  assert.deepEqual(paramShapes(spec, d).map((s) => [s.name, s.shape]), want);
  const cfg = promptConfigJson(spec, d, 'base');
  assert.equal(cfg['peft_type'], 'P_TUNING');
  assert.equal(cfg['encoder_reparameterization_type'], 'LSTM');
  assert.equal(cfg['encoder_num_layers'], 2);
  assert.equal(cfg['encoder_hidden_size'], 6);
  // nn.LSTM's init: every parameter within ±1/√hidden.
  const w = initPromptWeights(spec, d, 1);
  const lstm = w.params.filter((p) => p.name.startsWith('lstm_head.'));
  assert.ok(lstm.every((p) => p.data.every((v) => Math.abs(v) <= 1 / Math.sqrt(6))));
  assert.ok(lstm.some((p) => p.data.some((v) => Math.abs(v) > 0.3)), 'spread over the range, not the MLP\'s 1/√in');
});
