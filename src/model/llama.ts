import * as tf from '@tensorflow/tfjs';
import type { FrozenLinear, LlamaModel, TargetModule } from './load.js';
import { ropeTables } from './rope.js';
import type { KVCache } from './kv-cache.js';
import { attention, type AttentionMask } from './attention.js';
import { addSameShape, applyRope, rmsNorm, swiglu } from './lean-ops.js';
import { widenWeight } from './widen-weights.js';

export { rmsNorm };

/**
 * LoRA (or any adapter) hook: given a projection's input x [N, in], returns a delta [N, out] added to the frozen
 * projection's output, or null for no change. Gradients flow into whatever tensors it uses.
 */
export type LoraHook = ((layer: number, module: TargetModule, x: tf.Tensor2D) => tf.Tensor2D | null) & {
  /** The trainable tensors the hook uses in one layer: gradient checkpointing differentiates a layer w.r.t. them. */
  layerTensors?: (layer: number) => tf.Tensor[];
};

/**
 * PEFT's prompt-learning adapters (prompt tuning, P-tuning, prefix tuning): positions added in front of every
 * sequence. They are added on a pass without a cache, or on the pass that starts one (PEFT injects them at prefill
 * only: later decoding steps find them in the cache). Gradients flow into whatever tensors the functions use.
 */
export interface VirtualTokens {
  /** How many positions the adapter adds (PEFT's num_virtual_tokens). */
  count: number;
  /**
   * Prompt tuning, P-tuning: virtual-token embeddings [count, H], prepended to every row's input embeddings. They
   * take RoPE positions 0…count−1 and the real tokens count…, as transformers numbers inputs_embeds.
   */
  embeddings?: () => tf.Tensor2D;
  /**
   * Prefix tuning: per layer, keys and values [KV, count, hd] (transformers' cache layout without the batch),
   * placed in front of the layer's keys/values as if they were a cache: not rotated, and the real tokens take
   * positions count… (PEFT passes them as past_key_values).
   */
  prefix?: () => Array<{ k: tf.Tensor3D; v: tf.Tensor3D }>;
}

/** What an adapter hands the forward pass: a LoRA hook, virtual tokens, or both. */
export interface AdapterHooks {
  lora?: LoraHook;
  virtualTokens?: VirtualTokens;
}

/** A LoRA hook alone (what older callers pass) or the full set of adapter hooks. */
export type ForwardAdapter = LoraHook | AdapterHooks;

/** The forward options an adapter contributes. */
export function adapterOptions(a: ForwardAdapter | undefined): AdapterHooks {
  if (a === undefined) return {};
  if (typeof a === 'function') return { lora: a };
  return { ...(a.lora ? { lora: a.lora } : {}), ...(a.virtualTokens ? { virtualTokens: a.virtualTokens } : {}) };
}

/** Positions an adapter prepends to the hidden states a pass without a cache returns (prompt tuning, P-tuning). */
export function prependedPositions(a: ForwardAdapter | undefined): number {
  const vt = adapterOptions(a).virtualTokens;
  return vt?.embeddings ? vt.count : 0;
}

export interface ForwardOptions {
  /**
   * [B][T], 1 = token, 0 = padding (right padding). Defaults to all ones. Host data, not a tensor: the mask is built
   * on the CPU anyway, and reading a tensor back synchronously is impossible on WebGPU.
   */
  attentionMask?: number[][];
  /** Incremental decoding: attends to the cached keys/values and appends this call's. */
  cache?: KVCache;
  lora?: LoraHook;
  /**
   * Keep only each layer's input for the backward pass and rebuild the layer's internals there (about one more
   * forward pass of compute for a fraction of the activation memory). Ignored with a cache. Defaults to false.
   */
  gradientCheckpointing?: boolean;
  virtualTokens?: VirtualTokens;
}

// Additive mask value: exp() of it underflows to exactly 0 in float32, as transformers' finfo.min does.
const MASKED = -1e9;

/**
 * y = x·Wᵀ + b as a custom-gradient op: the backward pass runs on the fast plain-matMul layout when `w` is kept
 * (training), and nothing is saved for it. (tfjs's own MatMul gradient would save its inputs, and on wasm saving
 * means copying: a copy of the whole weight matrix per call.)
 */
export function frozenMatMul(x: tf.Tensor2D, lin: FrozenLinear): tf.Tensor2D {
  const { w, bias } = lin;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const a = args[0] as tf.Tensor2D;
    return {
      value: withDenseWeight(lin, (wT) => (bias ? (tf.fused.matMul({ a, b: wT, bias }) as tf.Tensor2D) : tf.matMul(a, wT))),
      gradFunc: (dy: tf.Tensor) => (w ? tf.matMul(dy as tf.Tensor2D, w) : withDenseWeight(lin, (wT) => tf.matMul(dy as tf.Tensor2D, wT, false, true))),
    };
  });
  return op(x) as tf.Tensor2D;
}

/**
 * Runs f on the float32 [in, out] weight: the kept one, or a packed one widened for this call alone and freed
 * right after, so at most one widened matrix is alive at a time (forward and backward widen separately).
 */
function withDenseWeight<T extends tf.Tensor>(lin: FrozenLinear, f: (wT: tf.Tensor2D) => T): T {
  if (lin.wT) return f(lin.wT);
  const wT = widenWeight(lin.packed!);
  try {
    return f(wT);
  } finally {
    wT.dispose();
  }
}

/**
 * Token embeddings [N, H] of flat ids. Frozen, and off the tape: tfjs's gather would save a copy of the whole
 * embedding matrix for a gradient nobody asks for (and wasm cannot compute it anyway: no UnsortedSegmentSum).
 */
function embed(model: LlamaModel, ids: tf.Tensor1D): tf.Tensor2D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const i = args[0] as tf.Tensor1D;
    return { value: lookupRows(model, i), gradFunc: () => tf.zerosLike(i) };
  });
  return op(ids) as tf.Tensor2D;
}

/** Token embeddings [n, H] of `ids`, off the tape (prompt tuning's TEXT init copies them). */
export function embeddingRows(model: LlamaModel, ids: number[]): tf.Tensor2D {
  return tf.tidy(() => lookupRows(model, tf.tensor1d(ids, 'int32')));
}

/**
 * Rows `ids` of the vocabulary matrix, from whichever block holds each id. With several blocks every block is
 * gathered at clamped ids and masked to the ids it holds: x·1 + 0 is exact, and the ids never leave the device.
 */
function lookupRows(model: LlamaModel, ids: tf.Tensor1D): tf.Tensor2D {
  const { blocks, starts } = model.head;
  const table = model.embedTable;
  const gatherBlock = (b: number, local: tf.Tensor1D): tf.Tensor2D =>
    table ? tf.gather(table[b]!, local, 0) : (tf.transpose(tf.gather(blocks[b]!.wT, local, 1)) as tf.Tensor2D);
  if (blocks.length === 1) return gatherBlock(0, ids);
  let sum: tf.Tensor2D | null = null;
  blocks.forEach((block, b) => {
    const lo = starts[b]!;
    const local = tf.cast(tf.clipByValue(tf.sub(ids, lo), 0, block.outFeatures - 1), 'int32') as tf.Tensor1D;
    const inBlock = tf.logicalAnd(tf.greaterEqual(ids, lo), tf.less(ids, lo + block.outFeatures));
    const part = tf.mul(gatherBlock(b, local), tf.expandDims(tf.cast(inBlock, 'float32'), 1)) as tf.Tensor2D;
    sum = sum ? (tf.add(sum, part) as tf.Tensor2D) : part;
  });
  return sum!;
}

/**
 * Additive attention mask [Bm, 1, T, S] (Bm = 1 when no row has padding), or null when nothing is masked. S may
 * exceed past + T (a KV cache's capacity): the causal rule hides those positions too.
 */
function buildMask(keyMask: number[][] | null, B: number, T: number, past: number, S: number, window: number | null): AttentionMask | null {
  const padded = keyMask !== null && keyMask.some((row) => row.some((v) => v === 0));
  const windowed = window !== null && past + T > window;
  if (!padded && !windowed && T === 1 && S === past + 1) return null;
  const Bm = padded ? B : 1;
  const data = new Float32Array(Bm * T * S);
  for (let b = 0; b < Bm; b++) {
    const keys = padded ? keyMask![b]! : null;
    for (let t = 0; t < T; t++) {
      const q = past + t;
      const row = (b * T + t) * S;
      for (let s = 0; s < S; s++) {
        const visible = s <= q && (keys === null || keys[s] !== 0) && (window === null || q - s < window);
        if (!visible) data[row + s] = MASKED;
      }
    }
  }
  return { data, shape: [Bm, 1, T, S] };
}

/**
 * The decoder stack: embeddings → layers → final RMSNorm. Returns hidden states [B, T, H] (float32), or
 * [B, P + T, H] when virtual-token embeddings are prepended; apply `lmHead` to the rows whose logits you need.
 * Hugging Face semantics throughout (see issue 4).
 */
export function forwardHidden(model: LlamaModel, inputIds: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
  const { config: c } = model;
  const [B, T0] = inputIds.shape;
  const cache = opts.cache;
  const past = cache ? cache.length : 0;
  // Virtual tokens join on the pass that has no cached positions yet; the cache then holds them.
  const vt = opts.virtualTokens && past === 0 ? opts.virtualTokens : null;
  const prepended = vt?.embeddings ? vt.count : 0;
  const prefixLen = vt?.prefix ? vt.count : 0;
  const added = prepended + prefixLen;
  const T = T0 + prepended;
  // PEFT concatenates ones for the virtual positions in front of the attention mask.
  const withVirtual = (rows: number[][]): number[][] => (added ? rows.map((r) => [...new Array<number>(added).fill(1), ...r]) : rows);
  let keyMask: number[][] | null = null;
  const currentMask = opts.attentionMask ?? null;
  if (cache) {
    if (cache.length > 0 && cache.batch !== B) throw new TypeError(`forwardHidden: cache holds batch ${cache.batch}, inputIds has ${B}`);
    cache.appendMask(withVirtual(currentMask ?? Array.from({ length: B }, () => new Array<number>(T0).fill(1))), B);
    keyMask = cache.keyMask;
  } else keyMask = currentMask ? withVirtual(currentMask) : null;
  const start = past + prefixLen;
  // Keys attended to: this pass's and the earlier ones, or the cache's whole capacity (zeros past the end, masked).
  const keyLen = cache ? cache.reserve(start + T) : start + T;

  return tf.tidy(() => {
    // Uploaded once per pass and shared by every layer, forward and backward (the ops that need them keep them).
    const maskData = buildMask(keyMask, B, T, start, keyLen, c.slidingWindow);
    const { cos: cosData, sinSigned: sinData } = ropeTables(model.rope, start, T);
    const passConstants: PassConstants = {
      mask: maskData ? tf.tensor4d(maskData.data, maskData.shape) : null,
      cos: tf.tensor4d(cosData, [1, T, 1, c.headDim]),
      sin: tf.tensor4d(sinData, [1, T, 1, c.headDim]),
    };
    const N = B * T;
    let x = embed(model, tf.reshape(inputIds, [B * T0]) as tf.Tensor1D);
    if (vt?.embeddings) {
      const virtual = tf.tile(tf.expandDims(vt.embeddings(), 0), [B, 1, 1]);
      x = tf.reshape(tf.concat([virtual, tf.reshape(x, [B, T0, c.hiddenSize])], 1), [N, c.hiddenSize]) as tf.Tensor2D;
    }
    const prefix = vt?.prefix ? vt.prefix() : null;
    // Prefix tokens are trainable tensors inside every layer, which a rebuilt layer would not differentiate.
    const checkpointing = (opts.gradientCheckpointing ?? model.gradientCheckpointing) && !cache && !prefix;
    for (let i = 0; i < c.numLayers; i++) {
      // One tidy per layer: temporaries that the backward pass does not need are freed layer by layer instead of
      // all at the end of the forward pass (training a 30-layer model otherwise holds them all at once).
      x = checkpointing ? checkpointedLayer(x, opts.lora?.layerTensors?.(i) ?? [], passConstants, (input, consts) => layerForward(i, input, consts)) : tf.tidy(() => layerForward(i, x, passConstants));
    }
    function layerForward(i: number, x: tf.Tensor2D, consts: PassConstants): tf.Tensor2D {
      const layer = model.layers[i]!;
      const proj = (m: TargetModule, input: tf.Tensor2D): tf.Tensor2D => {
        const y = frozenMatMul(input, layer.proj[m]);
        const delta = opts.lora?.(i, m, input);
        return delta ? addSameShape(y, delta) : y;
      };
      const h = rmsNorm(x, layer.inputNorm, c.rmsNormEps);
      let q = tf.reshape(proj('q_proj', h), [B, T, c.numHeads, c.headDim]) as tf.Tensor4D;
      let k = tf.reshape(proj('k_proj', h), [B, T, c.numKvHeads, c.headDim]) as tf.Tensor4D;
      const v = tf.reshape(proj('v_proj', h), [B, T, c.numKvHeads, c.headDim]) as tf.Tensor4D;
      if (layer.qNorm && layer.kNorm) {
        q = rmsNorm(q, layer.qNorm, c.rmsNormEps);
        k = rmsNorm(k, layer.kNorm, c.rmsNormEps);
      }
      q = applyRope(q, consts.cos, consts.sin);
      k = applyRope(k, consts.cos, consts.sin);
      // Keys as [B, KV, hd, S] so q·kᵀ is a plain matMul; values as [B, KV, S, hd].
      let kT = tf.transpose(k, [0, 2, 3, 1]) as tf.Tensor4D;
      let vh = tf.transpose(v, [0, 2, 1, 3]) as tf.Tensor4D;
      const pl = prefix?.[i];
      if (pl) {
        const perRow = (t: tf.Tensor3D) => tf.tile(tf.expandDims(t, 0), [B, 1, 1, 1]) as tf.Tensor4D;
        kT = tf.concat([perRow(tf.transpose(pl.k, [0, 2, 1])), kT], 3);
        vh = tf.concat([perRow(pl.v), vh], 2);
      }
      if (cache) ({ kT, v: vh } = cache.append(i, kT, vh, past));
      const ctx = attention(q, kT, vh, consts.mask, { batch: B, queryLen: T, keyLen, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim });
      x = addSameShape(x, proj('o_proj', ctx));
      const h2 = rmsNorm(x, layer.postAttentionNorm, c.rmsNormEps);
      const gate = proj('gate_proj', h2);
      const up = proj('up_proj', h2);
      return addSameShape(x, proj('down_proj', swiglu(gate, up)));
    }
    if (cache) cache.length = start + T;
    return tf.reshape(rmsNorm(x, model.finalNorm, c.rmsNormEps), [B, T, c.hiddenSize]) as tf.Tensor3D;
  });
}

interface TapeState {
  state: { activeTape: unknown };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor, allowNoGradients: boolean): { value: tf.Tensor; grads: Array<tf.Tensor | undefined> };
}

/** What every layer of one pass shares: the attention mask and the RoPE tables, uploaded once. */
interface PassConstants {
  mask: tf.Tensor4D | null;
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
}

/**
 * One layer as a single differentiable op whose only saved tensors are its input and the pass's constants: the
 * forward pass runs the layer off the tape and frees everything but the output; the backward pass runs it again
 * on a tape of its own and differentiates it w.r.t. the input and the layer's trainable tensors (`params`, inputs
 * of the op so that the outer tape links them to the loss).
 */
function checkpointedLayer(x: tf.Tensor2D, params: tf.Tensor[], consts: PassConstants, layer: (x: tf.Tensor2D, consts: PassConstants) => tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor2D;
    // The constants are saved (shared, not copied): the forward pass's tidy has freed them by the backward pass.
    (args[args.length - 1] as tf.GradSaveFunc)([input, consts.cos, consts.sin, ...(consts.mask ? [consts.mask] : [])]);
    return {
      value: tf.tidy(() => layer(input, consts)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved[0] as tf.Tensor2D;
        const kept: PassConstants = { cos: saved[1] as tf.Tensor4D, sin: saved[2] as tf.Tensor4D, mask: (saved[3] as tf.Tensor4D | undefined) ?? null };
        const engine = tf.engine() as unknown as TapeState;
        // engine.gradients starts a fresh tape and clears it when done; the outer backward pass still owns its own.
        const outer = engine.state.activeTape;
        let r;
        try {
          r = engine.gradients(() => layer(xs, kept), [xs, ...params], dy, true);
        } finally {
          engine.state.activeTape = outer;
        }
        r.value.dispose();
        return r.grads.map((g, k) => g ?? tf.zerosLike(k === 0 ? xs : params[k - 1]!));
      },
    };
  });
  return op(x, ...params) as tf.Tensor2D;
}

/** Logits [N, V] of hidden rows [N, H]: one matMul per vocabulary block, side by side. */
export function lmHead(model: LlamaModel, hidden: tf.Tensor2D): tf.Tensor2D {
  const { blocks } = model.head;
  if (blocks.length === 1) return frozenMatMul(hidden, blocks[0]!);
  return tf.concat(blocks.map((b) => frozenMatMul(hidden, b)), 1) as tf.Tensor2D;
}
