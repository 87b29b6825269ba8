import type { Command } from '../command.js';
import { flagNumber, flagString, requireFlag } from '../flags.js';
import { UsageError, exitCodeFor } from '../../errors.js';

const usage = `usage: alpaca-forge sample --model DIR --instruction TEXT [--input TEXT] [options]
       alpaca-forge sample --model DIR --data FILE --out answers.jsonl [options]

Answers an instruction with a local model (Hugging Face LLaMA/Mistral/Qwen2/Qwen3 directory), formatted with the
Alpaca prompt. With --data, answers every item of an Alpaca JSON/JSONL file into a JSONL file (resumable: rerun the
same command after Ctrl-C).

  --model DIR            Hugging Face model directory (config.json, *.safetensors, tokenizer.json)
  --adapter DIR          LoRA adapter directory (from \`alpaca-forge train\` or PEFT)
  --instruction TEXT     the instruction
  --input TEXT           optional context for it
  --data FILE            answer every item of this dataset instead
  --out FILE             JSONL output for --data: {instruction, input, reference, output, tokens, stopped_by}
  --limit N              answer only the first N items of --data
  --batch-size N         items of --data decoded together, one forward pass per token for all of them (default 8;
                         each item keeps its own seed, so the answers do not depend on it)
  --max-new-tokens N     default: generation_config.json's max_new_tokens, else 256
  --temperature T        0 = greedy; default: generation_config.json when it samples, else 0
  --top-p P  --top-k K   nucleus / top-k filtering (default: generation_config.json, else off)
  --seed S               sampling seed (default: random; printed so a sample can be reproduced)
  --backend NAME         auto | tensorflow-gpu | tensorflow | webgpu | wasm | cpu (default auto: the first
                         that starts; a software WebGPU renderer only when asked for)`;

export const command: Command = {
  name: 'sample',
  summary: 'answer an instruction (or a dataset) with a model',
  usage,
  onInterrupt: 'stopping: answers written so far are kept; rerun to resume…',
  options: {
    model: { type: 'string' },
    adapter: { type: 'string' },
    instruction: { type: 'string' },
    input: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    limit: { type: 'string' },
    'batch-size': { type: 'string' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'top-k': { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values;
    const modelDir = requireFlag(v, 'model', 'DIR (a Hugging Face model directory)');
    const instruction = flagString(v, 'instruction');
    const dataFile = flagString(v, 'data');
    if ((instruction === undefined) === (dataFile === undefined)) throw new UsageError('pass either --instruction TEXT or --data FILE', 'see `alpaca-forge sample --help`');
    const outFile = dataFile !== undefined ? requireFlag(v, 'out', 'answers.jsonl (where the answers go)') : undefined;
    const maxNewFlag = flagNumber(v, 'max-new-tokens', { integer: true, min: 1 });
    const temperatureFlag = flagNumber(v, 'temperature', { min: 0 });
    const topPFlag = flagNumber(v, 'top-p', { min: 0, max: 1 });
    const topKFlag = flagNumber(v, 'top-k', { integer: true, min: 0 });
    const seed = flagNumber(v, 'seed', { integer: true, min: 0 }) ?? Math.floor(Math.random() * 2 ** 31);
    const limit = flagNumber(v, 'limit', { integer: true, min: 1 });
    const batchSize = flagNumber(v, 'batch-size', { integer: true, min: 1 }) ?? 8;
    if (outFile !== undefined) {
      const { assertNotInput, prepareAppendOutput } = await import('../../io/write-output.js');
      assertNotInput({ path: outFile, label: '--out' }, [{ path: dataFile!, label: '--data' }]);
      prepareAppendOutput(outFile, '--out');
    }
    const samples = dataFile !== undefined ? (await import('../../data/alpaca-file.js')).readAlpacaFile(dataFile).slice(0, limit) : [];

    const { openModel } = await import('../../train/adapters/open-model.js');
    const { generate, generateBatch } = await import('../../model/generate.js');
    const { formatAlpacaPrompt } = await import('../../model/alpaca-prompt.js');
    const { model, lora } = await openModel({ modelDir, adapterDir: flagString(v, 'adapter'), backend: flagString(v, 'backend'), log: ctx.err });
    try {
      const g = model.generationConfig;
      const sampling = g.doSample === true;
      const opts = {
        maxNewTokens: maxNewFlag ?? g.maxNewTokens ?? 256,
        temperature: temperatureFlag ?? (sampling ? (g.temperature ?? 1) : 0),
        topP: topPFlag ?? (sampling ? g.topP : undefined) ?? 1,
        topK: topKFlag ?? (sampling ? g.topK : undefined) ?? 0,
        ...(lora ? { lora } : {}),
        signal: ctx.signal,
      };
      ctx.err(`sampling: ${opts.temperature > 0 ? `temperature ${opts.temperature}, top-p ${opts.topP}, top-k ${opts.topK || 'off'}, seed ${seed}` : 'greedy'}, up to ${opts.maxNewTokens} new tokens`);
      const answer = (s: { instruction: string; input: string }, itemSeed: number) => {
        const ids = model.tokenizer.encode(formatAlpacaPrompt(s));
        return generate(model, ids, { ...opts, seed: itemSeed });
      };

      if (instruction !== undefined) {
        const r = await answer({ instruction, input: flagString(v, 'input') ?? '' }, seed);
        ctx.out(r.text);
        const tps = r.ids.length > 1 ? ((r.ids.length - 1) / (r.decodeMs / 1000)).toFixed(1) : '-';
        ctx.err(`prompt ${r.promptTokens} tokens in ${(r.prefillMs / 1000).toFixed(2)} s; ${r.ids.length} new tokens (${r.stoppedBy}), ${tps} tokens/s`);
        return r.stoppedBy === 'aborted' ? exitCodeFor('interrupted') : 0;
      }

      const { ResumableJsonl } = await import('../../model/resumable-jsonl.js');
      const out = ResumableJsonl.open(outFile!, samples.map((s) => s.instruction), 'instruction');
      if (out.done > 0) ctx.err(`resuming: ${out.done} of ${samples.length} items already answered in ${outFile}`);
      const t0 = performance.now();
      let tokens = 0;
      for (let i = out.done; i < samples.length; i += batchSize) {
        if (ctx.signal.aborted) break;
        const chunk = samples.slice(i, i + batchSize);
        // Per-item seeds derived from --seed keep each answer reproducible whether or not the run was resumed, and
        // whatever the batch size.
        const rs = await generateBatch(
          model,
          chunk.map((s) => model.tokenizer.encode(formatAlpacaPrompt(s))),
          { ...opts, seeds: chunk.map((_, k) => (seed + (i + k) * 7919) >>> 0) },
        );
        // Lines stay in item order: a Ctrl-C keeps the answers before the first one it cut short.
        const whole = rs.findIndex((r) => r.stoppedBy === 'aborted');
        const done = whole < 0 ? rs : rs.slice(0, whole);
        out.append(done.map((r, k) => ({ instruction: chunk[k]!.instruction, input: chunk[k]!.input, reference: chunk[k]!.output, output: r.text, tokens: r.ids.length, stopped_by: r.stoppedBy })));
        tokens += done.reduce((n, r) => n + r.ids.length, 0);
        const secs = (performance.now() - t0) / 1000;
        if (done.length) ctx.err(`answered ${i + done.length}/${samples.length} (${(tokens / secs).toFixed(1)} new tokens/s)`);
        if (whole >= 0) break;
      }
      if (ctx.signal.aborted) {
        ctx.err(`stopped; rerun the same command to resume`);
        return exitCodeFor('interrupted');
      }
      ctx.out(`wrote ${samples.length} answers to ${outFile}`);
      return 0;
    } catch (e) {
      throw (await import('../../model/backend-error.js')).explainBackendError(e);
    } finally {
      model.dispose();
    }
  },
};
