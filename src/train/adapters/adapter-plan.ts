import type { ModelConfig } from '../../model/config.js';
import type { TargetModuleName } from '../../config/train.js';
import { countLoraParams } from '../engines/plan.js';
import { promptDims, promptParamCount, type PromptSpec } from './prompt-spec.js';

export interface AdapterParamRow {
  adapter: 'lora' | 'prompt-tuning' | 'p-tuning' | 'prefix-tuning';
  /** what the count depends on, in words */
  detail: string;
  trainableParams: number;
  /** bytes of parameters + gradients + AdamW state (m, v), all float32 */
  trainingBytes: number;
}

/**
 * Trainable parameters of each PEFT adapter type on this model, side by side: LoRA with the run's r and modules,
 * and the prompt-learning ones with its virtual tokens (PEFT's shapes: prompt-spec.ts). Virtual tokens add
 * `numVirtualTokens` positions to every pass, so their activations grow by that many tokens per sequence.
 */
export function adapterParamTable(c: ModelConfig, o: { r: number; targetModules: readonly TargetModuleName[]; numVirtualTokens: number; encoderHiddenSize: number | null }): AdapterParamRow[] {
  const d = promptDims(c);
  const spec = (kind: PromptSpec['kind'], prefixProjection = false): PromptSpec => ({ kind, numVirtualTokens: o.numVirtualTokens, encoderHiddenSize: o.encoderHiddenSize, prefixProjection, initText: null });
  const p = o.numVirtualTokens;
  const eh = (tokenDim: number) => o.encoderHiddenSize ?? tokenDim;
  const kvDim = c.numKvHeads * c.headDim;
  const rows: Array<Omit<AdapterParamRow, 'trainingBytes'>> = [
    { adapter: 'lora', detail: `r=${o.r} on ${o.targetModules.join(',')}`, trainableParams: countLoraParams(c, o.r, o.targetModules) },
    { adapter: 'prompt-tuning', detail: `${p} virtual tokens × ${c.hiddenSize}`, trainableParams: promptParamCount(spec('prompt-tuning'), d) },
    { adapter: 'p-tuning', detail: `${p} virtual tokens, MLP encoder of width ${eh(c.hiddenSize)}`, trainableParams: promptParamCount(spec('p-tuning'), d) },
    { adapter: 'prefix-tuning', detail: `${p} virtual tokens × ${c.numLayers} layers × keys+values of ${kvDim}`, trainableParams: promptParamCount(spec('prefix-tuning'), d) },
    { adapter: 'prefix-tuning', detail: `same, through a projection MLP of width ${eh(kvDim)} (--prefix-projection)`, trainableParams: promptParamCount(spec('prefix-tuning', true), d) },
  ];
  return rows.map((r) => ({ ...r, trainingBytes: 16 * r.trainableParams }));
}
