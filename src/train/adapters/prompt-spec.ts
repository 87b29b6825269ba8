import type { ModelConfig } from '../../model/config.js';
import { Rng, mixSeed } from '../rng.js';

/**
 * PEFT's prompt-learning adapters: instead of changing weights they add `numVirtualTokens` positions in front of
 * every sequence. Prompt tuning learns those positions' embeddings directly; P-tuning computes them with a small
 * encoder (PEFT's MLP); prefix tuning learns every layer's keys and values for them (optionally through a
 * projection MLP).
 */
export type PromptAdapterKind = 'prompt-tuning' | 'p-tuning' | 'prefix-tuning';

export const PEFT_TYPE: Record<PromptAdapterKind, 'PROMPT_TUNING' | 'P_TUNING' | 'PREFIX_TUNING'> = {
  'prompt-tuning': 'PROMPT_TUNING',
  'p-tuning': 'P_TUNING',
  'prefix-tuning': 'PREFIX_TUNING',
};

export interface PromptSpec {
  kind: PromptAdapterKind;
  numVirtualTokens: number;
  /** P-tuning's MLP and prefix tuning's projection: hidden width; null = PEFT's default, token_dim. */
  encoderHiddenSize: number | null;
  /** Prefix tuning: learn an embedding per virtual token and project it to every layer's keys/values. */
  prefixProjection: boolean;
  /** Prompt tuning: initialise from this text's token embeddings (PEFT's TEXT init); null = RANDOM. */
  initText: string | null;
  /** P-tuning's encoder (PEFT encoder_reparameterization_type): MLP (the default) or a bidirectional LSTM + MLP head. */
  encoderType?: 'MLP' | 'LSTM';
  /** P-tuning's LSTM: stacked layers (PEFT encoder_num_layers, default 2; the MLP has 3 layers whatever this says). */
  encoderNumLayers?: number;
}

/** P-tuning's LSTM layers and width, or null for the other encoders. */
export function lstmShape(spec: PromptSpec, d: PromptDims): { layers: number; hidden: number } | null {
  return spec.kind === 'p-tuning' && spec.encoderType === 'LSTM' ? { layers: spec.encoderNumLayers ?? 2, hidden: encoderHidden(spec, d) } : null;
}

/** torch.nn.LSTM's parameter names: per layer, the forward then the reverse direction, each W_ih, W_hh, b_ih, b_hh. */
export function lstmParamNames(layer: number, reverse: boolean): { wIh: string; wHh: string; bIh: string; bHh: string } {
  const sfx = `_l${layer}${reverse ? '_reverse' : ''}`;
  return { wIh: `lstm_head.weight_ih${sfx}`, wHh: `lstm_head.weight_hh${sfx}`, bIh: `lstm_head.bias_ih${sfx}`, bHh: `lstm_head.bias_hh${sfx}` };
}

/** The model dimensions an adapter depends on (what PEFT's _prepare_prompt_learning_config reads). */
export interface PromptDims {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

export const promptDims = (c: ModelConfig): PromptDims => ({ hiddenSize: c.hiddenSize, numLayers: c.numLayers, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim });

/**
 * PEFT's token_dim and num_attention_heads. For prefix tuning on a model whose config has num_key_value_heads
 * (every LLaMA-family config), PEFT sizes the prefix for the KV heads (peft#1901): token_dim = head_dim × KV heads.
 */
export function peftDims(kind: PromptAdapterKind, d: PromptDims): { tokenDim: number; numAttentionHeads: number } {
  if (kind === 'prefix-tuning') return { tokenDim: d.headDim * d.numKvHeads, numAttentionHeads: d.numKvHeads };
  return { tokenDim: d.hiddenSize, numAttentionHeads: d.numHeads };
}

export const encoderHidden = (spec: PromptSpec, d: PromptDims): number => spec.encoderHiddenSize ?? peftDims(spec.kind, d).tokenDim;

/** One trainable tensor under its name in PEFT's prompt encoder (`embedding.weight`, `mlp_head.0.weight`…). */
export interface PromptParam {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface PromptWeights {
  spec: PromptSpec;
  dims: PromptDims;
  /** In the fixed order PEFT's module declares them (AdamW's state slots follow it). */
  params: PromptParam[];
}

/** The parameters' names and shapes, in PEFT's layouts (nn.Linear weights as [out, in]). */
export function paramShapes(spec: PromptSpec, d: PromptDims): Array<{ name: string; shape: number[] }> {
  const P = spec.numVirtualTokens;
  const { tokenDim } = peftDims(spec.kind, d);
  const eh = encoderHidden(spec, d);
  const linear = (prefix: string, inF: number, outF: number) => [
    { name: `${prefix}.weight`, shape: [outF, inF] },
    { name: `${prefix}.bias`, shape: [outF] },
  ];
  switch (spec.kind) {
    case 'prompt-tuning':
      return [{ name: 'embedding.weight', shape: [P, tokenDim] }];
    case 'p-tuning': {
      const lstm = lstmShape(spec, d);
      if (lstm) {
        // PEFT's LSTM encoder: a bidirectional nn.LSTM(token_dim → h, num_layers) whose [P, 2h] output goes through
        // the MLP head Linear(2h, 2h), ReLU, Linear(2h, token_dim). Gates stack as i, f, g, o (torch's order).
        const h = lstm.hidden;
        const layers = Array.from({ length: lstm.layers }, (_, l) =>
          [false, true].flatMap((reverse) => {
            const n = lstmParamNames(l, reverse);
            return [
              { name: n.wIh, shape: [4 * h, l === 0 ? tokenDim : 2 * h] },
              { name: n.wHh, shape: [4 * h, h] },
              { name: n.bIh, shape: [4 * h] },
              { name: n.bHh, shape: [4 * h] },
            ];
          }),
        ).flat();
        return [{ name: 'embedding.weight', shape: [P, tokenDim] }, ...layers, ...linear('mlp_head.0', 2 * h, 2 * h), ...linear('mlp_head.2', 2 * h, tokenDim)];
      }
      // PEFT's MLP head: Linear(token_dim, h), ReLU, Linear(h, h), ReLU, Linear(h, token_dim).
      return [{ name: 'embedding.weight', shape: [P, tokenDim] }, ...linear('mlp_head.0', tokenDim, eh), ...linear('mlp_head.2', eh, eh), ...linear('mlp_head.4', eh, tokenDim)];
    }
    case 'prefix-tuning': {
      const kvWidth = d.numLayers * 2 * tokenDim;
      if (!spec.prefixProjection) return [{ name: 'embedding.weight', shape: [P, kvWidth] }];
      // PEFT's transform: Linear(token_dim, h), Tanh, Linear(h, layers·2·token_dim).
      return [{ name: 'embedding.weight', shape: [P, tokenDim] }, ...linear('transform.0', tokenDim, eh), ...linear('transform.2', eh, kvWidth)];
    }
  }
}

export const promptParamCount = (spec: PromptSpec, d: PromptDims): number => paramShapes(spec, d).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);

/** Width of one virtual token in PEFT's saved `prompt_embeddings`: token_dim, or layers·2·token_dim for prefix tuning. */
export function savedWidth(kind: PromptAdapterKind, d: PromptDims): number {
  const { tokenDim } = peftDims(kind, d);
  return kind === 'prefix-tuning' ? d.numLayers * 2 * tokenDim : tokenDim;
}

/**
 * Fresh parameters as PEFT initialises them: nn.Embedding ~ N(0, 1); nn.Linear weight and bias ~ U(±1/√in)
 * (kaiming_uniform_ with a = √5); nn.LSTM's every weight and bias ~ U(±1/√hidden). Prompt tuning from text copies `textEmbeddings` ([P, H], already repeated or
 * truncated to P tokens by the caller) into the embedding.
 */
export function initPromptWeights(spec: PromptSpec, d: PromptDims, seed: number, textEmbeddings?: Float32Array): PromptWeights {
  const rng = new Rng(mixSeed(seed, 0x9e7));
  const normal = () => {
    // Box–Muller; 1 − u keeps the log finite.
    const u = 1 - rng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
  };
  const shapes = paramShapes(spec, d);
  const params = shapes.map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name === 'embedding.weight') {
      if (textEmbeddings && spec.kind === 'prompt-tuning') {
        if (textEmbeddings.length !== n) throw new TypeError(`initPromptWeights: text embeddings have ${textEmbeddings.length} values, expected ${n}`);
        data.set(textEmbeddings);
      } else for (let i = 0; i < n; i++) data[i] = normal();
    } else if (name.startsWith('lstm_head.')) {
      const bound = 1 / Math.sqrt(encoderHidden(spec, d));
      for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) * bound;
    } else {
      const fanIn = name.endsWith('.weight') ? shape[1]! : (shapes.find((s) => s.name === name.replace('.bias', '.weight'))!.shape[1] as number);
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) * bound;
    }
    return { name, shape, data };
  });
  return { spec, dims: d, params };
}

/** PEFT's TEXT init: the text's token ids (as the tokenizer encodes it), repeated or truncated to `count`. */
export function initTokenIds(ids: readonly number[], count: number): number[] {
  if (!ids.length) throw new TypeError('the prompt-init text has no tokens');
  const out: number[] = [];
  while (out.length < count) out.push(...ids);
  return out.slice(0, count);
}
