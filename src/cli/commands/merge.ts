import type { Command } from '../command.js';
import { flagBool, flagString, requireFlag } from '../flags.js';

const usage = `usage: alpaca-forge merge --model DIR --adapter DIR --out DIR [--backend NAME] [--json]

Merges a LoRA adapter (from \`alpaca-forge train\` or PEFT) into its base model: W' = W + scale·B·A for every
adapted projection. Writes a complete Hugging Face checkpoint into --out (config, safetensors in the base's dtype
and shard layout, tokenizer and generation files), ready for transformers, vLLM or a GGUF conversion.

  --backend NAME   auto | tensorflow-gpu | tensorflow | webgpu | wasm | cpu (default auto: the first that starts;
                   a software WebGPU renderer only when asked for)`;

export const command: Command = {
  name: 'merge',
  summary: 'merge a LoRA adapter into its base model',
  usage,
  options: { model: { type: 'string' }, adapter: { type: 'string' }, out: { type: 'string' }, backend: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const model = requireFlag(ctx.values, 'model', 'DIR (the base model the adapter was trained on)');
    const adapter = requireFlag(ctx.values, 'adapter', 'DIR (holding adapter_config.json and adapter_model.safetensors)');
    const out = requireFlag(ctx.values, 'out', 'DIR (a new directory for the merged model)');
    const json = flagBool(ctx.values, 'json');
    const { assertFolderPath } = await import('../../io/write-output.js');
    assertFolderPath(out, '--out', 'merge writes a model folder: pass a new or empty folder path, e.g. --out merged-model');
    const { parseBackendFlag, selectBackend } = await import('../../model/backend.js');
    const { explainBackendError } = await import('../../model/backend-error.js');
    const { mergeAdapter } = await import('../../train/adapters/merge.js');
    const backend = await selectBackend(parseBackendFlag(flagString(ctx.values, 'backend')), { log: ctx.err });
    ctx.err(`backend: ${backend.name} — ${backend.device}`);
    const t0 = performance.now();
    let res: Awaited<ReturnType<typeof mergeAdapter>>;
    try {
      res = await mergeAdapter({ model, adapter, out, onFile: (file, i, n) => !json && ctx.err(`merging ${file} (${i + 1}/${n})…`) });
    } catch (e) {
      throw explainBackendError(e);
    }
    const seconds = (performance.now() - t0) / 1000;
    if (json) ctx.out(JSON.stringify({ ...res, backend: backend.name, seconds }));
    else ctx.out(`merged ${res.mergedModules} projections into ${res.files.length} file(s), copied ${res.copied.join(', ')}; ${out} in ${seconds.toFixed(1)} s`);
    return 0;
  },
};
