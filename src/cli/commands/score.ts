import type { Command } from '../command.js';
import { flagBool, flagNumber, flagString, requireFlag } from '../flags.js';
import { exitCodeFor } from '../../errors.js';

const usage = `usage: alpaca-forge score --model DIR --data FILE --out scores.jsonl [--ifd] [options]

Writes, per sample, the mean negative log-likelihood (nats/token) of the response tokens (output + EOS) given the
Alpaca prompt, exactly the loss training minimises, and the token count. Resumable: rerun after Ctrl-C.

  --model DIR          Hugging Face model directory
  --adapter DIR        LoRA adapter directory (scores under base model + adapter)
  --data FILE          Alpaca JSON or JSONL dataset
  --out FILE           JSONL: {index, instruction, input, output, nll, tokens[, nll_alone, ifd]} (missing
                       folders are created; not the --data file itself)
  --ifd                also score the output alone and report IFD = nll / nll_alone (instruction-following
                       difficulty, Li et al. 2023; high = the instruction helps little)
  --batch-size N       sequences per forward pass (default 8)
  --cutoff-len N       truncate sequences to N tokens, as training does (default 512)
  --limit N            score only the first N samples
  --backend NAME       auto | tensorflow-gpu | tensorflow | webgpu | wasm | cpu (default auto: the first that
                       starts; a software WebGPU renderer only when asked for)`;

export const command: Command = {
  name: 'score',
  summary: 'per-sample loss (and IFD) of a dataset under a model',
  usage,
  onInterrupt: 'stopping after the current chunk: scores written so far are kept; rerun to resume…',
  options: {
    model: { type: 'string' },
    adapter: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    ifd: { type: 'boolean' },
    'batch-size': { type: 'string' },
    'cutoff-len': { type: 'string' },
    limit: { type: 'string' },
    backend: { type: 'string' },
  },
  async run(ctx) {
    const v = ctx.values;
    const modelDir = requireFlag(v, 'model', 'DIR (a Hugging Face model directory)');
    const dataFile = requireFlag(v, 'data', 'FILE (Alpaca JSON or JSONL)');
    const outFile = requireFlag(v, 'out', 'scores.jsonl');
    const ifd = flagBool(v, 'ifd');
    const batchSize = flagNumber(v, 'batch-size', { integer: true, min: 1 }) ?? 8;
    // Absent: scoreSamples' own default (DEFAULT_SCORE_CUTOFF), written in one place.
    const cutoffLen = flagNumber(v, 'cutoff-len', { integer: true, min: 2 });
    const limit = flagNumber(v, 'limit', { integer: true, min: 1 });
    const { assertNotInput, prepareAppendOutput } = await import('../../io/write-output.js');
    assertNotInput({ path: outFile, label: '--out' }, [{ path: dataFile, label: '--data' }]);
    prepareAppendOutput(outFile, '--out');
    const { readAlpacaFile } = await import('../../data/alpaca-file.js');
    const samples = readAlpacaFile(dataFile).slice(0, limit);

    const { openModel } = await import('../../train/adapters/open-model.js');
    const { scoreSamples } = await import('../../model/score-samples.js');
    const { ResumableJsonl } = await import('../../model/resumable-jsonl.js');
    const out = ResumableJsonl.open(outFile, samples.map((s) => s.instruction), 'instruction');
    const { model, lora } = await openModel({ modelDir, adapterDir: flagString(v, 'adapter'), backend: flagString(v, 'backend'), log: ctx.err });
    try {
      if (out.done > 0) ctx.err(`resuming: ${out.done} of ${samples.length} samples already scored in ${outFile}`);
      const t0 = performance.now();
      let lastReport = 0;
      let tokens = 0;
      let nllTotal = 0;
      // Chunks of several batches: sorted by length inside a chunk (little padding), appended in file order.
      const chunk = batchSize * 8;
      for (let start = out.done; start < samples.length; start += chunk) {
        if (ctx.signal.aborted) break;
        const part = samples.slice(start, start + chunk);
        const scores = await scoreSamples(model, part, { batchSize, ...(cutoffLen !== undefined ? { cutoffLen } : {}), ifd, ...(lora ? { lora } : {}) });
        out.append(
          part.map((s, j) => {
            const sc = scores[j]!;
            tokens += sc.tokens;
            nllTotal += sc.nll * sc.tokens;
            return {
              index: start + j,
              instruction: s.instruction,
              input: s.input,
              output: s.output,
              nll: sc.nll,
              tokens: sc.tokens,
              ...(ifd ? { nll_alone: sc.nllAlone, ifd: sc.ifd } : {}),
            };
          }),
        );
        const done = Math.min(start + chunk, samples.length);
        const now = performance.now();
        if (done === samples.length || now - lastReport > 2000) {
          lastReport = now;
          const secs = (now - t0) / 1000;
          ctx.err(`scored ${done}/${samples.length} (${((done - out.done) / secs).toFixed(1)} samples/s, ${(tokens / secs).toFixed(0)} response tokens/s)`);
        }
      }
      if (ctx.signal.aborted) {
        ctx.err('stopped; rerun the same command to resume');
        return exitCodeFor('interrupted');
      }
      const mean = tokens ? nllTotal / tokens : NaN;
      ctx.out(`wrote ${samples.length} scores to ${outFile}${tokens ? `; this run: ${tokens} response tokens, mean NLL ${mean.toFixed(4)} nats/token (perplexity ${Math.exp(mean).toFixed(2)})` : ''}`);
      return 0;
    } catch (e) {
      throw (await import('../../model/backend-error.js')).explainBackendError(e);
    } finally {
      model.dispose();
    }
  },
};
