import { parseBackendFlag, selectBackend, type BackendInfo } from '../../model/backend.js';
import { loadModel, type LlamaModel } from '../../model/load.js';
import type { ForwardAdapter } from '../../model/llama.js';

export interface OpenModelOptions {
  modelDir: string;
  /** PEFT adapter directory (LoRA or prompt learning), applied through the trainer's loadAdapter. */
  adapterDir?: string | undefined;
  /** Backend to force (a --backend value); auto-selection when undefined or 'auto'. */
  backend?: string | undefined;
  /** Where to say what runs where (stderr in commands). */
  log: (line: string) => void;
}

/** Starts the backend, loads the model (and adapter), and reports backend, device and model on `log`. */
export async function openModel(o: OpenModelOptions): Promise<{ model: LlamaModel; lora: ForwardAdapter | undefined; backend: BackendInfo }> {
  const backend = await selectBackend(parseBackendFlag(o.backend), { log: o.log });
  o.log(`backend: ${backend.name} — ${backend.device}`);
  const t0 = performance.now();
  const model = await loadModel(o.modelDir);
  const c = model.config;
  o.log(`model: ${o.modelDir} (${c.modelType}, ${c.numLayers} layers, hidden ${c.hiddenSize}, vocab ${c.vocabSize}) loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let lora: ForwardAdapter | undefined;
  if (o.adapterDir !== undefined) {
    try {
      // The trainer owns the adapter format; imported lazily so plain sampling never loads the training code.
      const { loadAdapter } = await import('./adapter-io.js');
      lora = await loadAdapter(o.adapterDir, model);
    } catch (e) {
      model.dispose();
      throw e;
    }
    o.log(`adapter: ${o.adapterDir}`);
  }
  return { model, lora, backend };
}
