import { dirname } from 'node:path';
import type { Command } from '../command.js';
import { configOption, readConfig } from '../config-flags.js';
import { flagBool, flagList, flagNumber, flagString, requireFlag } from '../flags.js';
import { parseAllowChange } from '../../generate/run-settings.js';
import { generationPrinter } from '../generate-output.js';
import { baseUrlFlags } from '../base-url-flags.js';
import { forgeConfigSchema, type ForgeConfig } from '../../config/schema.js';
import { ConfigError, UsageError, exitCodeFor } from '../../errors.js';
import { assertFolderPath } from '../../io/write-output.js';
import type { BatchAction } from '../../generate/batch-rounds.js';

const usage = `usage: alpaca-forge generate --run output/NAME [options]

Generates instruction/input/output samples from seed tasks through any OpenAI-compatible chat API until the
run holds --target kept samples. Re-running the same command resumes the run. Ctrl-C stops cleanly.

  --run DIR            run directory (created if new; resumed if it exists)
  --config FILE        forge.yaml (default ./forge.yaml if present); flags below override it
  --target N           kept samples to reach (default 52000)
  --model M            chat model (default gpt-4o-mini)
  --base-url URL       OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (default $OPENAI_BASE_URL);
                       give it several times for a pool (or list generation.endpoints in forge.yaml)
  --concurrency C      requests in flight, over all endpoints (default 16)
  --seeds FILE         seed tasks JSONL (default: the run's own on resume, else the bundled seeds for --lang)
  --lang en|zh         language of the run (default en)
  --template NAME      json | alpaca | path to a template file (default json); with --method magpie:
                       llama3 | qwen2 | chatml | a JSON file {preQuery, postQuery} (default llama3)
  --method M           self-instruct (default) | evol (Evol-Instruct) | magpie
  --from FILE          evol: Alpaca JSON/JSONL whose items are evolved
  --from-run           evol: evolve the run's own kept items instead
  --rounds N           evol: rounds of evolution (default 3)
  --operators LIST     evol: depth, breadth, or constraints,deepen,concretize,reasoning,complicate-input,breadth
  --same-as-parent C   evol: how "no new information" is found: rouge-l (default: ROUGE-L to the parent >= 0.9)
                       or model (also ask the model whether the evolution equals its parent; one request more each)
  --response-model M   magpie: the chat model that answers the instructions (default --model)
  --temperature T  --top-p P  --max-tokens K  --seed S
  --budget-usd X       stop before spending more than X USD (needs a price for the model in forge.yaml)
  --min-yield S        stop when under this share of requested items is kept over the last 500 answers
                       (default 0.01; 0 = never): a teacher that ran out of variety stops instead of burning money
  --allow-change LIST  let this resume change the run's seeds, model, template or lang (comma-separated);
                       the change is recorded in the run's history. Without it a changed setting is refused
  --mode online|batch  batch: rounds through the OpenAI Batch API (half price, results within 24 h; default online);
                       self-instruct and evol (Magpie cannot: the Batch API serves no raw completions for chat models)
  --cancel-batches     batch mode: cancel the run's running batches, ingest what they answered, and stop
  --emit-batch FILE    write one round of requests as an OpenAI batch JSONL (for vLLM run_batch…) and stop; Magpie's
                       pre-query lines go to /v1/completions (vLLM run_batch serves them)
  --ingest-batch FILE  ingest a batch output JSONL (custom_id → response) for the round written by --emit-batch
  --json               print one JSON event per line

The API key is read from $OPENAI_API_KEY (or the variable named by generation.apiKeyEnv); it is never stored.`;

export const command: Command = {
  name: 'generate',
  summary: 'generate instruction data from seed tasks',
  usage,
  // What Ctrl-C really does: answers already received are committed; open requests are dropped, not awaited.
  onInterrupt: 'stopping: finished answers are saved; requests still in flight are abandoned, and resuming sends new ones in their place…',
  options: {
    ...configOption,
    run: { type: 'string' },
    target: { type: 'string' },
    model: { type: 'string' },
    'base-url': { type: 'string', multiple: true },
    concurrency: { type: 'string' },
    seeds: { type: 'string' },
    lang: { type: 'string' },
    template: { type: 'string' },
    method: { type: 'string' },
    from: { type: 'string' },
    'from-run': { type: 'boolean' },
    rounds: { type: 'string' },
    operators: { type: 'string' },
    'same-as-parent': { type: 'string' },
    'response-model': { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'max-tokens': { type: 'string' },
    seed: { type: 'string' },
    'budget-usd': { type: 'string' },
    'min-yield': { type: 'string' },
    'allow-change': { type: 'string' },
    mode: { type: 'string' },
    'cancel-batches': { type: 'boolean' },
    'emit-batch': { type: 'string' },
    'ingest-batch': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const runDir = requireFlag(ctx.values, 'run', 'output/NAME');
    assertFolderPath(runDir, '--run', 'a run is a folder (created if new): pass a folder path, e.g. --run output/my-run');
    const { config: fileConfig } = readConfig(ctx);
    const config = withGenerationFlags(fileConfig, ctx.values, ctx.env);
    const apiKey = ctx.env[config.generation.apiKeyEnv] || undefined;
    const allowChange = parseAllowChange(flagList(ctx.values, 'allow-change'));
    const batch = batchAction(ctx.values, config);
    if (ctx.terminal && !batch && config.generation.mode === 'online') {
      // The screen starts generation without --allow-change, so a resume's settings are settled here first.
      const { reconcileRunSettings } = await import('../../generate/run-generation.js');
      for (const note of reconcileRunSettings(runDir, config, allowChange)) ctx.err(`warning: ${note}`);
      // On a terminal the generate screen shows progress, rejections, latest samples and the endpoint's state.
      const { launchApp } = await import('../../ui/launch.js');
      await launchApp({
        start: { kind: 'generate', runDir, config },
        runsDir: dirname(runDir),
        config,
        apiKeyFor: (name) => ctx.env[name] || undefined,
        color: ctx.output.color,
        signal: ctx.signal,
        ...ctx.terminal,
      });
      const { RunStore } = await import('../../store/run-store.js');
      const store = RunStore.open(runDir);
      const kept = store.countItems('kept');
      store.close();
      ctx.err(`${runDir}: ${kept}/${config.generation.target} kept${kept < config.generation.target ? `; resume with: alpaca-forge ${ctx.argv.join(' ')}` : ''}`);
      return 0;
    }
    const mode = ctx.output.format;
    const print = generationPrinter(mode, mode === 'json' ? ctx.write : ctx.writeErr);
    const { runGeneration } = await import('../../generate/run-generation.js');
    const outcome = await runGeneration({ runDir, config, apiKey, apiKeyFor: (name) => ctx.env[name] || undefined, signal: ctx.signal, onEvent: print, allowChange, ...(batch ? { batch } : {}) });
    const settled = outcome.reason === 'target' || outcome.reason === 'budget' || outcome.reason === 'batch-pending' || outcome.reason === 'cancelled' || outcome.reason === 'exhausted';
    if (!settled && mode !== 'json') {
      ctx.err(`resume with: alpaca-forge ${ctx.argv.join(' ')}`);
    }
    if (settled) return 0;
    // Stopped short of the target by the yield floor, a spending guard like the budget but not a finished run.
    if (outcome.reason === 'low-yield') return exitCodeFor('budget');
    return outcome.reason === 'interrupted' ? exitCodeFor('interrupted') : exitCodeFor('api');
  },
};

/** --cancel-batches, --emit-batch and --ingest-batch: what batch work this invocation does, if any beyond --mode. */
function batchAction(values: Parameters<Command['run']>[0]['values'], config: ForgeConfig): BatchAction | undefined {
  const emit = flagString(values, 'emit-batch');
  const ingest = flagString(values, 'ingest-batch');
  const cancel = flagBool(values, 'cancel-batches');
  if ([emit !== undefined, ingest !== undefined, cancel].filter(Boolean).length > 1) {
    throw new UsageError('--emit-batch, --ingest-batch and --cancel-batches go one at a time', 'run them as separate commands');
  }
  if (emit !== undefined) return { kind: 'emit', file: emit };
  if (ingest !== undefined) return { kind: 'ingest', file: ingest };
  if (cancel) return { kind: 'api', cancel: true };
  return config.generation.mode === 'batch' ? { kind: 'api', cancel: false } : undefined;
}

/** Flags override forge.yaml; the merged result is validated by the same schema, so a bad flag reads like a bad field. */
function withGenerationFlags(config: ForgeConfig, values: Parameters<Command['run']>[0]['values'], env: NodeJS.ProcessEnv): ForgeConfig {
  const g: Record<string, unknown> = { ...config.generation };
  const set = (key: string, v: unknown) => {
    if (v !== undefined) g[key] = v;
  };
  set('target', flagNumber(values, 'target', { integer: true, min: 1 }));
  set('model', flagString(values, 'model'));
  // Several --base-url: a pool of equal endpoints sharing --concurrency, instead of generation.endpoints.
  Object.assign(g, baseUrlFlags(values, config.generation, env));
  set('concurrency', flagNumber(values, 'concurrency', { integer: true, min: 1 }));
  set('seeds', flagString(values, 'seeds'));
  set('lang', flagString(values, 'lang'));
  set('method', flagString(values, 'method'));
  const method = g['method'];
  // --template names the method's template: a generation prompt, or Magpie's chat template.
  if (method === 'magpie') {
    const template = flagString(values, 'template');
    g['magpie'] = { ...(config.generation.magpie as object), ...(template !== undefined ? { template } : {}), ...(flagString(values, 'response-model') !== undefined ? { responseModel: flagString(values, 'response-model') } : {}) };
  } else set('template', flagString(values, 'template'));
  const from = flagString(values, 'from');
  if (from !== undefined && flagBool(values, 'from-run')) throw new UsageError('--from and --from-run go one at a time', 'evolve a file (--from FILE) or the run\'s kept items (--from-run)');
  const evol: Record<string, unknown> = { ...config.generation.evol };
  if (from !== undefined) evol['from'] = from;
  if (flagBool(values, 'from-run')) evol['from'] = null;
  if (flagString(values, 'operators') !== undefined) evol['operators'] = flagString(values, 'operators');
  if (flagString(values, 'same-as-parent') !== undefined) evol['sameAsParentCheck'] = flagString(values, 'same-as-parent');
  const rounds = flagNumber(values, 'rounds', { integer: true, min: 1 });
  if (rounds !== undefined) evol['rounds'] = rounds;
  g['evol'] = evol;
  if (method !== 'evol' && (from !== undefined || flagBool(values, 'from-run') || rounds !== undefined)) throw new UsageError('--from, --from-run and --rounds belong to --method evol', 'add --method evol');
  set('temperature', flagNumber(values, 'temperature'));
  set('topP', flagNumber(values, 'top-p'));
  set('maxTokens', flagNumber(values, 'max-tokens', { integer: true, min: 1 }));
  set('seed', flagNumber(values, 'seed', { integer: true }));
  set('budgetUsd', flagNumber(values, 'budget-usd'));
  set('minYield', flagNumber(values, 'min-yield', { min: 0, max: 1 }));
  set('mode', flagString(values, 'mode'));
  const r = forgeConfigSchema.safeParse({ ...config, generation: g });
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `command line: ${i.path.join('.')}: ${i.message}`), 'fix the flag value (see `alpaca-forge generate --help`)');
  }
  return r.data;
}
