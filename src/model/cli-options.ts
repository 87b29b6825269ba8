import type { ParsedValues } from '../cli/command.js';
import { flagString } from '../cli/flags.js';
import { UsageError } from '../errors.js';
import { BACKEND_NAMES, selectBackend, type BackendInfo, type BackendName } from './backend.js';
import type { LlamaModel } from './load.js';
import type { LoraHook } from './llama.js';

/** `--backend NAME`, validated. */
export function backendFlag(values: ParsedValues): BackendName | undefined {
  const b = flagString(values, 'backend');
  if (b === undefined) return undefined;
  if (!(BACKEND_NAMES as readonly string[]).includes(b)) throw new UsageError(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got "${b}"`);
  return b as BackendName;
}

/** Starts the backend, loads the model (and adapter), and says on stderr what runs where. */
export async function openModelForCommand(values: ParsedValues, modelDir: string, err: (line: string) => void): Promise<{ model: LlamaModel; lora: LoraHook | undefined; backend: BackendInfo }> {
  const backend = await selectBackend(backendFlag(values));
  err(`backend: ${backend.name} — ${backend.device}`);
  const t0 = performance.now();
  const { loadModel } = await import('./load.js');
  const model = await loadModel(modelDir);
  const c = model.config;
  err(`model: ${modelDir} (${c.modelType}, ${c.numLayers} layers, hidden ${c.hiddenSize}, vocab ${c.vocabSize}) loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const adapterDir = flagString(values, 'adapter');
  let lora: LoraHook | undefined;
  if (adapterDir !== undefined) {
    // The trainer owns the adapter format; imported lazily so plain sampling never loads the training code.
    const { loadAdapter } = await import('../train/adapter-io.js');
    lora = await loadAdapter(adapterDir, model);
    err(`adapter: ${adapterDir}`);
  }
  return { model, lora, backend };
}
