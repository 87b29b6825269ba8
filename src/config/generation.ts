import { z } from 'zod';
import { langSchema } from '../data/sample.js';
import { ConfigError } from '../errors.js';

const SCHEME_HINT = 'must start with http:// or https://, e.g. http://localhost:8000/v1';
const CREDENTIALS_HINT = 'must not hold a user:password; give the key through the variable named by apiKeyEnv (default OPENAI_API_KEY)';

/**
 * An endpoint URL with its scheme. Refused rather than guessed: `localhost:8000` parses as a URL whose scheme is
 * "localhost:", and fetch then fails every request with "unknown scheme" (plain http or https is the user's call).
 */
export const baseUrlSchema = z
  .string()
  .url({ error: SCHEME_HINT })
  .refine((v) => /^https?:\/\/[^/]/i.test(v), { error: SCHEME_HINT })
  // fetch refuses such a URL outright, and the run would store it (and its error messages show it) with the config.
  .refine((v) => !hasCredentials(v), { error: CREDENTIALS_HINT });

function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url);
    return u.username !== '' || u.password !== '';
  } catch {
    return false;
  }
}

/** Checks a base URL that comes from a flag or the environment; the error names where it came from, never a password. */
export function checkBaseUrl(value: string | undefined, setting: string): string | undefined {
  if (value === undefined) return undefined;
  const r = baseUrlSchema.safeParse(value);
  if (r.success) return r.data;
  if (hasCredentials(value)) throw new ConfigError([`${setting} ${CREDENTIALS_HINT}`], 'remove the user:password part of the URL');
  throw new ConfigError([`${setting}: "${value}" ${SCHEME_HINT}`], 'write the endpoint with its scheme (http:// for a local server, https:// for a hosted API)');
}

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a variable name such as OPENAI_API_KEY');

/** One endpoint of a pool: requests spread over the pool by weight and free capacity. */
export const endpointConfigSchema = z
  .object({
    baseUrl: baseUrlSchema.describe('OpenAI-compatible endpoint with its scheme, e.g. http://localhost:8000/v1'),
    model: z.string().min(1).optional().describe('model name at this endpoint; default generation.model'),
    apiKeyEnv: envName.optional().describe('environment variable holding this endpoint\'s key; default generation.apiKeyEnv'),
    weight: z.number().positive().default(1).describe('share of the requests, relative to the other endpoints'),
    concurrency: z.number().int().min(1).max(1024).optional().describe('requests in flight at this endpoint at most; default generation.concurrency'),
  })
  .strict();

export type EndpointConfig = z.output<typeof endpointConfigSchema>;

/** The OpenAI Batch API (`generate --mode batch`): rounds of up to maxRequests requests, half the price, within 24 h. */
export const batchConfigSchema = z
  .object({
    maxRequests: z.number().int().min(1).max(50000).default(2000).describe('requests in one batch (one round); the Batch API takes at most 50,000'),
    pollSeconds: z.number().positive().default(15).describe('first wait between status checks of a batch; grows 1.5x up to maxPollSeconds'),
    maxPollSeconds: z.number().positive().default(300).describe('longest wait between status checks'),
  })
  .strict();

/** `generate --method evol`: Evol-Instruct over an input file or the run's own kept items. */
export const evolConfigSchema = z
  .object({
    rounds: z.number().int().min(1).max(20).default(3).describe('rounds of evolution; each evolves what the round before kept'),
    operators: z.string().default('depth,breadth').describe('operators: depth, breadth, or names among constraints, deepen, concretize, reasoning, complicate-input, breadth (comma-separated)'),
    from: z.string().nullable().default(null).describe("Alpaca JSON/JSONL file whose items are evolved; null = the run's own kept items (--from-run)"),
    sameAsParentRougeL: z.number().gt(0).max(1).default(0.9).describe('an evolution this similar (ROUGE-L) to its parent adds no information and is dropped'),
    sameAsParentCheck: z
      .enum(['rouge-l', 'model'])
      .default('rouge-l')
      .describe("how 'no new information' is decided: rouge-l (sameAsParentRougeL alone), or model: evolutions that pass it are also shown to the model with their parent and dropped if it calls them equal (WizardLM's check; one more request each)"),
    minResponseChars: z.number().int().min(0).default(10).describe('a response with fewer letters/digits is dropped as too short'),
  })
  .strict();

/** `generate --method magpie`: instructions written by an aligned model from its chat template's pre-query alone. */
export const magpieConfigSchema = z
  .object({
    template: z.string().default('llama3').describe('chat template: llama3, qwen2, chatml, or a JSON file {preQuery, postQuery, systemPreQuery?, stop?}'),
    responseModel: z.string().nullable().default(null).describe('model that answers the instructions (chat); null = generation.model'),
    minChars: z.number().int().min(0).default(10).describe('an instruction with fewer letters/digits is dropped'),
    maxChars: z.number().int().positive().default(2000).describe('an instruction longer than this is dropped'),
    instructionMaxTokens: z.number().int().positive().default(512).describe('max tokens of one instruction'),
  })
  .strict();

/** Settings of `generate`. Every field has a default and a description: `init` writes them out as commented YAML. */
export const generationConfigSchema = z
  .object({
    method: z.enum(['self-instruct', 'evol', 'magpie']).default('self-instruct').describe('self-instruct (Alpaca), evol (Evol-Instruct) or magpie'),
    evol: evolConfigSchema.prefault({}).describe('settings of --method evol'),
    magpie: magpieConfigSchema.prefault({}).describe('settings of --method magpie'),
    model: z.string().min(1).default('gpt-4o-mini').describe('chat model name, as the endpoint knows it'),
    baseUrl: baseUrlSchema
      .nullable()
      .default(null)
      .describe('OpenAI-compatible endpoint with its scheme, e.g. http://localhost:8000/v1 (vLLM, Ollama, llama.cpp, DeepSeek…); null = $OPENAI_BASE_URL, else api.openai.com'),
    apiKeyEnv: envName
      .default('OPENAI_API_KEY')
      .describe('name of the environment variable that holds the API key (the key itself never goes in this file)'),
    endpoints: z
      .array(endpointConfigSchema)
      .default([])
      .describe('a pool of endpoints [{baseUrl, model, apiKeyEnv, weight, concurrency}] used instead of baseUrl; [] = baseUrl alone'),
    mode: z
      .enum(['online', 'batch'])
      .default('online')
      .describe('"online": requests as they are needed; "batch": rounds through the OpenAI Batch API (half price, results within 24 h)'),
    batch: batchConfigSchema.prefault({}).describe('batch mode settings'),
    target: z.number().int().positive().default(52000).describe('stop when the run holds this many kept samples'),
    concurrency: z.number().int().min(1).max(1024).default(16).describe('requests in flight at once'),
    lang: langSchema.default('en').describe('language of the run: picks seeds, prompt template and language rules'),
    template: z
      .string()
      .default('json')
      .describe('generation prompt: "json" (JSON array of tasks), "alpaca" (numbered list as Stanford Alpaca), or a path to a template file'),
    seeds: z.string().nullable().default(null).describe('seed tasks JSONL; null = the run\'s own seeds on resume, else the bundled seeds/seed_tasks.jsonl (or .zh.jsonl for zh)'),
    numTasks: z.number().int().min(1).max(100).default(20).describe('new tasks asked for in each request'),
    numExamples: z.number().int().min(0).max(20).default(3).describe('example tasks shown in each request'),
    machineExampleShare: z
      .number()
      .min(0)
      .max(1)
      .default(0.33)
      .describe("share of the examples drawn from the run's own kept samples once it has enough (0 = seeds only, as Alpaca)"),
    machineExamplesAfter: z.number().int().min(0).default(100).describe('kept samples needed before run samples are used as examples'),
    temperature: z.number().min(0).max(2).default(1).describe('sampling temperature'),
    topP: z.number().gt(0).max(1).default(1).describe('nucleus sampling top-p'),
    maxTokens: z.number().int().positive().default(3072).describe('max completion tokens per request'),
    seed: z.number().int().nullable().default(null).describe('seed for example sampling (and sent to the API); null = random'),
    budgetUsd: z.number().positive().nullable().default(null).describe('stop before the run would spend more than this (USD); null = no limit'),
    minYield: z
      .number()
      .min(0)
      .max(1)
      .default(0.01)
      .describe('stop when the kept share of requested items stays under this over the last 500 answers (the teacher ran out of variety); 0 = never'),
    storeRejected: z
      .number()
      .int()
      .min(0)
      .nullable()
      .default(1000)
      .describe('rejected, duplicate and unparsed items stored in full per reason (for review and re-curation); past that they are only counted, so run.db grows with what is kept; null = store all'),
    timeoutMs: z.number().int().positive().default(120000).describe('per-request timeout in milliseconds'),
    maxRetries: z.number().int().min(0).max(50).default(6).describe('retries of one request on 429, 5xx, timeouts and connection errors'),
    pauseAfterFailures: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('consecutive failed requests after which the whole run pauses instead of hammering the endpoint'),
    pauseSeconds: z.number().positive().default(30).describe('first pause length; doubles on each further pause, up to 10 minutes'),
    maxPauses: z.number().int().min(1).default(8).describe('pauses in a row after which the run stops (resumable) and says why'),
  })
  .strict();

export type GenerationConfig = z.output<typeof generationConfigSchema>;

const priceSchema = z
  .object({
    input: z.number().min(0).describe('USD per 1M prompt tokens'),
    output: z.number().min(0).describe('USD per 1M completion tokens'),
    batchInput: z.number().min(0).optional().describe('USD per 1M prompt tokens through the Batch API; absent = the input price'),
    batchOutput: z.number().min(0).optional().describe('USD per 1M completion tokens through the Batch API; absent = the output price'),
  })
  .strict();

/** USD per million tokens. Public list prices at the time of writing; override or extend in forge.yaml. */
export const pricesSchema = z
  .record(z.string(), priceSchema)
  .default({
    'gpt-4o-mini': { input: 0.15, output: 0.6 },
    'gpt-4o': { input: 2.5, output: 10 },
    'gpt-4.1': { input: 2, output: 8 },
    'gpt-4.1-mini': { input: 0.4, output: 1.6 },
    'gpt-4.1-nano': { input: 0.1, output: 0.4 },
    'deepseek-chat': { input: 0.27, output: 1.1 },
  })
  .describe('price table, USD per 1M tokens, by model name; a model not listed costs 0 (cost is then not tracked)');

export type Prices = z.output<typeof pricesSchema>;
