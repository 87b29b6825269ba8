import * as tf from '@tensorflow/tfjs';
import type { AdapterHooks, VirtualTokens } from '../../model/llama.js';
import { lstmParamNames, lstmShape, paramShapes, peftDims, savedWidth, type PromptAdapterKind, type PromptDims, type PromptSpec, type PromptWeights } from './prompt-spec.js';

let nextId = 0;

/** y = x·Wᵀ + b with W in nn.Linear's [out, in] layout (the encoders are a few rows: the layout costs nothing). */
const linear = (x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D => tf.add(tf.matMul(x, w as tf.Tensor2D, false, true), b) as tf.Tensor2D;

/**
 * PEFT's get_prompt for prefix tuning: [P, layers·2·token_dim] viewed as [P, layers·2, KV, hd]; entry 2i is layer i's
 * keys and 2i+1 its values, each as [KV, P, hd].
 */
export function prefixLayers(flat: tf.Tensor2D, d: PromptDims): Array<{ k: tf.Tensor3D; v: tf.Tensor3D }> {
  const P = flat.shape[0];
  const perLayer = tf.unstack(tf.transpose(tf.reshape(flat, [P, d.numLayers * 2, d.numKvHeads, d.headDim]), [1, 2, 0, 3])) as tf.Tensor3D[];
  return Array.from({ length: d.numLayers }, (_, i) => ({ k: perLayer[2 * i]!, v: perLayer[2 * i + 1]! }));
}

/**
 * What PEFT's prompt encoder outputs for the virtual tokens, from its parameters in declaration order: the
 * embeddings [P, token_dim] (prompt tuning, P-tuning) or the flat keys/values [P, layers·2·token_dim] (prefix
 * tuning). This is also what PEFT saves as `prompt_embeddings` (get_prompt_embedding_to_save).
 */
export function encoderOutput(spec: PromptSpec, d: PromptDims, p: readonly tf.Tensor[]): tf.Tensor2D {
  const e = p[0] as tf.Tensor2D;
  if (spec.kind === 'p-tuning') {
    const lstm = lstmShape(spec, d);
    if (lstm) {
      const byName = new Map(paramShapes(spec, d).map((s, i) => [s.name, p[i]!]));
      const out = bidirectionalLstm(e, lstm.layers, lstm.hidden, (l, reverse) => {
        const n = lstmParamNames(l, reverse);
        return { wIh: byName.get(n.wIh)!, wHh: byName.get(n.wHh)!, bIh: byName.get(n.bIh)!, bHh: byName.get(n.bHh)! };
      });
      const mlp = p.length - 4;
      return linear(tf.relu(linear(out, p[mlp]!, p[mlp + 1]!)), p[mlp + 2]!, p[mlp + 3]!);
    }
    const h1 = tf.relu(linear(e, p[1]!, p[2]!));
    const h2 = tf.relu(linear(h1, p[3]!, p[4]!));
    return linear(h2, p[5]!, p[6]!);
  }
  if (spec.kind === 'prefix-tuning' && spec.prefixProjection) return linear(tf.tanh(linear(e, p[1]!, p[2]!)), p[3]!, p[4]!);
  return e;
}

/**
 * torch.nn.LSTM(bidirectional=True, batch_first=True) over one sequence x [P, in], zero initial state: per layer a
 * forward pass over t = 0…P−1 and a reverse one over t = P−1…0, their hidden states concatenated [P, 2h] as the
 * next layer's input. Gates z = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh split as i, f, g, o; c = σ(f)c + σ(i)tanh(g);
 * h = σ(o)tanh(c). P is a few dozen: one small matMul per step.
 */
function bidirectionalLstm(x: tf.Tensor2D, layers: number, hidden: number, weights: (layer: number, reverse: boolean) => { wIh: tf.Tensor; wHh: tf.Tensor; bIh: tf.Tensor; bHh: tf.Tensor }): tf.Tensor2D {
  const P = x.shape[0];
  let input = x;
  for (let l = 0; l < layers; l++) {
    const directions = [false, true].map((reverse) => {
      const w = weights(l, reverse);
      // The input's share of every step's gates at once: [P, 4h].
      const fromInput = linear(input, w.wIh, tf.add(w.bIh, w.bHh));
      let h = tf.zeros([1, hidden]) as tf.Tensor2D;
      let c = tf.zeros([1, hidden]) as tf.Tensor2D;
      const states: tf.Tensor2D[] = new Array<tf.Tensor2D>(P);
      for (let k = 0; k < P; k++) {
        const t = reverse ? P - 1 - k : k;
        const z = tf.add(tf.slice(fromInput, [t, 0], [1, 4 * hidden]), tf.matMul(h, w.wHh as tf.Tensor2D, false, true));
        const [i, f, g, o] = tf.split(z, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
        states[t] = h;
      }
      return tf.concat(states, 0) as tf.Tensor2D;
    });
    input = tf.concat(directions, 1) as tf.Tensor2D;
  }
  return input;
}

/** The virtual tokens of an adapter whose encoder output `output()` computes. */
function virtualTokensOf(kind: PromptAdapterKind, d: PromptDims, count: number, output: () => tf.Tensor2D): VirtualTokens {
  return kind === 'prefix-tuning' ? { count, prefix: () => prefixLayers(output(), d) } : { count, embeddings: output };
}

/**
 * A prompt-learning adapter being trained: one tf.Variable per PEFT parameter, in declaration order. Same surface
 * as LoraRuntime (variables, hook, assign, read, dispose), so the gradient engines drive either.
 */
export class PromptRuntime {
  readonly weights: PromptWeights;
  readonly variables: tf.Variable[];

  constructor(weights: PromptWeights) {
    this.weights = weights;
    const id = nextId++;
    this.variables = weights.params.map((p) => tf.variable(tf.tensor(p.data, p.shape), true, `prompt${id}.${p.name}`));
  }

  /** The forward pass's hooks. PEFT's MLP encoder has no dropout, so the seed is unused. */
  hook(_opts: { dropoutSeed?: number } = {}): AdapterHooks {
    const { spec, dims } = this.weights;
    return { virtualTokens: virtualTokensOf(spec.kind, dims, spec.numVirtualTokens, () => encoderOutput(spec, dims, this.variables)) };
  }

  assign(values: readonly Float32Array[]): void {
    if (values.length !== this.variables.length) throw new TypeError(`PromptRuntime.assign: expected ${this.variables.length} arrays, got ${values.length}`);
    this.variables.forEach((v, i) => {
      const t = tf.tensor(values[i] as Float32Array, v.shape);
      v.assign(t);
      t.dispose();
    });
  }

  async read(): Promise<Float32Array[]> {
    return Promise.all(this.variables.map(async (v) => new Float32Array((await v.data()) as Float32Array)));
  }

  /** PEFT's `prompt_embeddings` at the current parameters (what adapter_model.safetensors holds). */
  async promptEmbeddings(): Promise<Float32Array> {
    const { spec, dims } = this.weights;
    const t = tf.tidy(() => encoderOutput(spec, dims, this.variables));
    try {
      return new Float32Array((await t.data()) as Float32Array);
    } finally {
      t.dispose();
    }
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** PromptRuntime.promptEmbeddings from host arrays, for writing files without a runtime (read asynchronously: GPU backends). */
export async function promptEmbeddingsOf(weights: PromptWeights): Promise<Float32Array> {
  const { spec, dims } = weights;
  const t = tf.tidy(() => encoderOutput(spec, dims, weights.params.map((p) => tf.tensor(p.data, p.shape))));
  try {
    return new Float32Array((await t.data()) as Float32Array);
  } finally {
    t.dispose();
  }
}

/**
 * A saved adapter for inference (`score`, `sample`): PEFT loads `prompt_embeddings` into the encoder's embedding
 * in inference mode and uses it as is (no encoder), which is what this does.
 */
export class FrozenPromptAdapter {
  private readonly table: tf.Tensor2D;
  constructor(
    readonly kind: PromptAdapterKind,
    readonly dims: PromptDims,
    readonly numVirtualTokens: number,
    embeddings: Float32Array,
  ) {
    const width = savedWidth(kind, dims);
    if (embeddings.length !== numVirtualTokens * width) throw new TypeError(`FrozenPromptAdapter: ${embeddings.length} values, expected ${numVirtualTokens} × ${width}`);
    this.table = tf.tensor2d(embeddings, [numVirtualTokens, width]);
  }

  hooks(): AdapterHooks {
    return { virtualTokens: virtualTokensOf(this.kind, this.dims, this.numVirtualTokens, () => this.table) };
  }

  /** PEFT's token_dim of this adapter (for messages). */
  get tokenDim(): number {
    return peftDims(this.kind, this.dims).tokenDim;
  }

  dispose(): void {
    this.table.dispose();
  }
}
