import * as tf from '@tensorflow/tfjs';
import type { AdapterHooks, VirtualTokens } from '../../model/llama.js';
import { peftDims, savedWidth, type PromptAdapterKind, type PromptDims, type PromptWeights } from './prompt-spec.js';

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
export function encoderOutput(kind: PromptAdapterKind, prefixProjection: boolean, p: readonly tf.Tensor[]): tf.Tensor2D {
  const e = p[0] as tf.Tensor2D;
  if (kind === 'p-tuning') {
    const h1 = tf.relu(linear(e, p[1]!, p[2]!));
    const h2 = tf.relu(linear(h1, p[3]!, p[4]!));
    return linear(h2, p[5]!, p[6]!);
  }
  if (kind === 'prefix-tuning' && prefixProjection) return linear(tf.tanh(linear(e, p[1]!, p[2]!)), p[3]!, p[4]!);
  return e;
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
    return { virtualTokens: virtualTokensOf(spec.kind, dims, spec.numVirtualTokens, () => encoderOutput(spec.kind, spec.prefixProjection, this.variables)) };
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
    const { spec } = this.weights;
    const t = tf.tidy(() => encoderOutput(spec.kind, spec.prefixProjection, this.variables));
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
  const { spec } = weights;
  const t = tf.tidy(() => encoderOutput(spec.kind, spec.prefixProjection, weights.params.map((p) => tf.tensor(p.data, p.shape))));
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
