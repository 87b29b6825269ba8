import type { TrainConfig } from '../../config/train.js';
import { embeddingRows } from '../../model/llama.js';
import type { LlamaModel } from '../../model/load.js';
import { UsageError } from '../../errors.js';
import { writePromptAdapter, writePromptEncoder } from './prompt-files.js';
import { promptEmbeddingsOf } from './prompt-runtime.js';
import { initPromptWeights, initTokenIds, promptDims, type PromptSpec, type PromptWeights } from './prompt-spec.js';

/** The prompt-learning adapter `train --adapter` asks for, or null for LoRA. Refuses settings that do not apply. */
export function promptSpecOf(config: TrainConfig, method: string): PromptSpec | null {
  if (config.adapter === 'lora') return null;
  const flag = `--adapter ${config.adapter}`;
  if (method !== 'sft') throw new UsageError(`${flag} trains with SFT only`, `use --method sft, or --adapter lora for ${method}`);
  if (config.initAdapter) throw new UsageError(`${flag}: --init-adapter continues LoRA adapters only`, 'drop --init-adapter (a prompt-learning run starts fresh or resumes with --resume)');
  if (config.promptInit !== null && config.adapter !== 'prompt-tuning') throw new UsageError(`${flag}: --prompt-init applies to prompt tuning only`, 'drop --prompt-init, or use --adapter prompt-tuning');
  if (config.prefixProjection && config.adapter !== 'prefix-tuning') throw new UsageError(`${flag}: --prefix-projection applies to prefix tuning only`, 'drop --prefix-projection, or use --adapter prefix-tuning');
  if (config.encoderReparameterizationType === 'LSTM' && config.adapter !== 'p-tuning') throw new UsageError(`${flag}: --encoder-reparameterization-type LSTM applies to P-tuning only`, 'drop it, or use --adapter p-tuning');
  const lstm = config.encoderReparameterizationType === 'LSTM' ? { encoderType: 'LSTM' as const, encoderNumLayers: config.encoderNumLayers } : {};
  return { kind: config.adapter, numVirtualTokens: config.numVirtualTokens, encoderHiddenSize: config.encoderHiddenSize, prefixProjection: config.prefixProjection, initText: config.promptInit, ...lstm };
}

/** Settings a resumed prompt-learning run must share (only present for these adapters, so LoRA checkpoints still resume). */
export function promptSettings(config: TrainConfig): Record<string, unknown> {
  // MLP is `undefined` (absent once saved), so checkpoints of MLP runs written before the LSTM existed still resume,
  // while an MLP run refuses an LSTM checkpoint (and the reverse) by name.
  const lstm = config.encoderReparameterizationType === 'LSTM';
  const encoder = config.adapter === 'p-tuning' ? { encoderReparameterizationType: lstm ? 'LSTM' : undefined, encoderNumLayers: lstm ? config.encoderNumLayers : undefined } : {};
  return { adapter: config.adapter, numVirtualTokens: config.numVirtualTokens, promptInit: config.promptInit, encoderHiddenSize: config.encoderHiddenSize, prefixProjection: config.prefixProjection, ...encoder };
}

/** Fresh parameters; with --prompt-init, the text's token embeddings repeated or cut to the virtual tokens (PEFT TEXT). */
export async function initialPromptWeights(spec: PromptSpec, model: LlamaModel, seed: number): Promise<PromptWeights> {
  const dims = promptDims(model.config);
  if (spec.initText === null) return initPromptWeights(spec, dims, seed);
  const ids = initTokenIds(model.tokenizer.encode(spec.initText), spec.numVirtualTokens);
  const rows = embeddingRows(model, ids);
  try {
    return initPromptWeights(spec, dims, seed, new Float32Array((await rows.data()) as Float32Array));
  } finally {
    rows.dispose();
  }
}

/**
 * A writer of PEFT's files (what PEFT loads) at the current parameters and, for checkpoints, of the encoder's own
 * parameters (what a resumed run needs). The encoder output is computed first (asynchronously), the files written
 * when called.
 */
export async function promptWriter(w: PromptWeights, opts: { baseModel: string; metadata?: Record<string, string> }): Promise<(dir: string, checkpoint: boolean) => void> {
  const embeddings = await promptEmbeddingsOf(w);
  return (dir, checkpoint) => {
    writePromptAdapter(dir, w.spec, w.dims, embeddings, { baseModel: opts.baseModel, ...(opts.metadata ? { metadata: opts.metadata } : {}) });
    if (checkpoint) writePromptEncoder(dir, w);
  };
}
