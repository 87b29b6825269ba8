import type { Command } from '../command.js';
import { progressLines } from '../progress-lines.js';
import { configOption, readConfig } from '../config-flags.js';
import { flagList, flagNumber, flagString, requireFlag } from '../flags.js';
import { baseUrlFlags } from '../base-url-flags.js';
import { UsageError, exitCodeFor } from '../../errors.js';
import type { RespondEvent } from '../../respond/run-respond.js';
import { respondSelectionSchema, respondSettingsSchema } from '../../config/respond.js';

const usage = `usage: alpaca-forge respond --run output/NAME --responses K [options]

Gives each selected sample K candidate responses for preference data (DPO): the sample's own output is one,
the other K-1 come from the models through the run's endpoint (or generation.endpoints' pool). They are stored in the run with their model,
sampling settings, tokens and cost. Re-running the same command resumes: nothing is asked twice, nothing lost.
Then rank them (\`curate --run DIR --rank\`, \`review --run DIR --rank\`) and \`export --format dpo\`.

  --run DIR            a run made by \`alpaca-forge generate\`
  --responses K        responses per sample, its own output included (2–9: the ranking screen picks by digit)
  --models M1,M2…      models of the new responses, used in turn (default the model that generated the run)
  --temperature T      sampling temperature (default 1; above 0 so the responses differ)
  --top-p P            nucleus sampling (default generation.topP)
  --max-tokens N       max tokens of one response (default 1024)
  --status kept|accepted  kept: what training uses (default); accepted: accepted in review only
  --concurrency C      requests in flight (default generation.concurrency)
  --budget-usd X       stop before the run's responses cost more than X USD (default generation.budgetUsd;
                       needs a price for every model in forge.yaml)
  --prompt NAME|FILE   respond (prompts/respond.LANG.txt, default) or a file with {{instruction}} and {{input}}
  --base-url URL       endpoint, in place of forge.yaml's (default generation.endpoints, each model sent to
                       the endpoints that serve it; else generation.baseUrl, else $OPENAI_BASE_URL);
                       give it several times for a pool, every model sent to all of them
  --config FILE        forge.yaml (default ./forge.yaml if present)
  --json               print one JSON event per line

The API key is read from $OPENAI_API_KEY (or the variable named by generation.apiKeyEnv); it is never stored.`;

export const command: Command = {
  name: 'respond',
  summary: 'several candidate responses per sample, for preference data',
  usage,
  options: {
    ...configOption,
    run: { type: 'string' },
    responses: { type: 'string' },
    models: { type: 'string' },
    temperature: { type: 'string' },
    'top-p': { type: 'string' },
    'max-tokens': { type: 'string' },
    status: { type: 'string' },
    concurrency: { type: 'string' },
    'budget-usd': { type: 'string' },
    prompt: { type: 'string' },
    'base-url': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const v = ctx.values;
    const runDir = requireFlag(v, 'run', 'output/NAME');
    const responses = flagNumber(v, 'responses', { integer: true, min: 2, max: 9 });
    if (responses === undefined) throw new UsageError('--responses is required', 'pass --responses K, e.g. --responses 4 (the sample\'s own output counts as one)');
    const status = flagString(v, 'status');
    if (status !== undefined && !respondSelectionSchema.safeParse(status).success) throw new UsageError(`--status must be ${respondSelectionSchema.options.join(' or ')}, got "${status}"`);
    const { config: fileConfig } = readConfig(ctx);
    const g = fileConfig.generation;
    const { runRespond, runModel } = await import('../../respond/run-respond.js');
    const models = flagList(v, 'models') ?? [runModel(runDir) ?? g.model];
    const where = baseUrlFlags(v, g, ctx.env);
    // Several --base-url name no model: each of them serves every model asked for.
    const pooledFlags = [v['base-url'] ?? []].flat().length > 1;
    const endpoints = pooledFlags ? where.endpoints.flatMap((e) => [...new Set(models)].map((model) => ({ ...e, model }))) : where.endpoints;
    const config = { ...fileConfig, generation: { ...g, baseUrl: where.baseUrl, endpoints } };
    // Defaults and limits live in respondSettingsSchema (the terminal UI's form uses the same): a flag left out is
    // undefined, which the schema fills with its default.
    const settings = respondSettingsSchema.parse({
      responses,
      models,
      temperature: flagNumber(v, 'temperature', { min: 0, max: 2 }),
      topP: flagNumber(v, 'top-p', { min: 0, max: 1 }) ?? g.topP,
      maxTokens: flagNumber(v, 'max-tokens', { integer: true, min: 1 }),
      status,
      concurrency: flagNumber(v, 'concurrency', { integer: true, min: 1, max: 1024 }) ?? g.concurrency,
      budgetUsd: flagNumber(v, 'budget-usd', { min: 0 }) ?? g.budgetUsd,
      prompt: flagString(v, 'prompt'),
    });
    const mode = ctx.output.format;
    const json = mode === 'json';
    const print = respondPrinter(mode, json ? ctx.write : ctx.writeErr);
    const outcome = await runRespond({ runDir, config, settings, apiKey: ctx.env[g.apiKeyEnv] || undefined, apiKeyFor: (name) => ctx.env[name] || undefined, signal: ctx.signal, onEvent: print });
    const complete = outcome.filled >= outcome.slots;
    if (!complete && !json) ctx.err(`resume with: alpaca-forge ${ctx.argv.join(' ')}`);
    if (outcome.reason === 'interrupted') return exitCodeFor('interrupted');
    if (outcome.reason === 'endpoint-down') return exitCodeFor('api');
    return complete || outcome.reason === 'budget' ? 0 : exitCodeFor('api');
  },
};

/** One updating line on a TTY, a line every few seconds otherwise, or one JSON object per event with --json. */
function respondPrinter(mode: 'tty' | 'plain' | 'json', write: (s: string) => void, plainEveryMs = 5000): (e: RespondEvent) => void {
  if (mode === 'json') return (e) => write(`${JSON.stringify(e)}\n`);
  const out = progressLines(mode, write, plainEveryMs);
  return (e) => {
    if (e.type === 'start') {
      out.line(
        `${e.resumed ? 'resuming' : 'starting'} ${e.runDir}: ${e.filled}/${e.slots} responses for ${e.items} samples · ${modelsAt(e.endpoints)} · concurrency ${e.concurrency}` +
          `${e.abandoned ? ` · ${e.abandoned} response(s) left in flight by the last run were abandoned` : ''}`,
      );
    } else if (e.type === 'progress') {
      const pool = e.endpoints ? ` · ${e.endpoints.map((x) => `${x.endpoint} (${x.model}): ${x.ok} ok${x.failed ? `/${x.failed} failed` : ''}${x.state === 'up' ? '' : ` ${x.state}`}`).join(', ')}` : '';
      out.progress(`${e.filled}/${e.slots} responses · ${e.requestsDone} done, ${e.requestsFailed} failed, ${e.inFlight} in flight · ${e.promptTokens + e.completionTokens} tokens · $${e.costUsd.toFixed(4)} · ${e.elapsedSec.toFixed(0)} s${pool}`);
    } else if (e.type === 'transport') {
      out.transport(e.transport);
    } else if (e.type === 'warning') {
      out.line(`warning: ${e.message}`);
    } else {
      out.line(e.message);
    }
  };
}

/** "m1, m2 at http://a/v1 · m3 at http://b/v1, http://c/v1": models sent to the same endpoints share a group. */
function modelsAt(endpoints: Array<{ endpoint: string; model: string }>): string {
  const byModel = new Map<string, string[]>();
  for (const e of endpoints) byModel.set(e.model, [...(byModel.get(e.model) ?? []), e.endpoint]);
  const groups = new Map<string, string[]>();
  for (const [model, at] of byModel) {
    const key = at.join(', ');
    groups.set(key, [...(groups.get(key) ?? []), model]);
  }
  return [...groups].map(([at, models]) => `${models.join(', ')} at ${at}`).join(' · ');
}
