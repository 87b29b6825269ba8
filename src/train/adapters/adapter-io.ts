import type { ForwardAdapter } from '../../model/llama.js';
import type { LlamaModel } from '../../model/load.js';
import { LoraRuntime } from './lora.js';
import { readAdapter, type AdapterShapes } from './peft-files.js';
import { adapterPeftType, isPromptPeftType, readPromptAdapter } from './prompt-files.js';
import { FrozenPromptAdapter } from './prompt-runtime.js';
import { promptDims } from './prompt-spec.js';

/** The shapes of a loaded model's projections, for checking an adapter against it. */
export function shapesOf(model: LlamaModel): AdapterShapes {
  return {
    layers: model.config.numLayers,
    features: (layer, module) => {
      const p = model.layers[layer]?.proj[module];
      return p ? { inFeatures: p.inFeatures, outFeatures: p.outFeatures } : undefined;
    },
  };
}

/**
 * A PEFT LoRA adapter directory (ours or one saved by Python PEFT) as a runtime adapter for `model`, without
 * dropout. Throws a ModelError naming the file when the adapter does not fit the model.
 */
export function loadAdapterRuntime(dir: string, model: LlamaModel): LoraRuntime {
  return new LoraRuntime(readAdapter(dir, shapesOf(model)).weights);
}

/**
 * Used by `sample` and `score --adapter DIR`: the hooks to pass to forwardHidden / the loss functions, for any
 * adapter type adapter_config.json's peft_type names (LoRA, prompt tuning, P-tuning, prefix tuning).
 */
export async function loadAdapter(dir: string, model: LlamaModel): Promise<ForwardAdapter> {
  if (isPromptPeftType(adapterPeftType(dir))) {
    const dims = promptDims(model.config);
    const saved = readPromptAdapter(dir, dims);
    return new FrozenPromptAdapter(saved.spec.kind, dims, saved.spec.numVirtualTokens, saved.promptEmbeddings).hooks();
  }
  return loadAdapterRuntime(dir, model).hook();
}
