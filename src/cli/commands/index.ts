import type { Command } from '../command.js';

/**
 * Commands are loaded lazily so that `alpaca-forge generate` never pays for TensorFlow.js or ink,
 * and `alpaca-forge train` never loads the OpenAI client.
 */
export const commandLoaders: Record<string, { summary: string; load: () => Promise<Command> }> = {
  init: { summary: 'write a commented forge.yaml with every setting and its default', load: async () => (await import('./init.js')).command },
  generate: { summary: 'generate instruction data from seed tasks through an OpenAI-compatible API', load: async () => (await import('./generate.js')).command },
  respond: { summary: 'several candidate responses per sample, for preference (DPO) data', load: async () => (await import('./respond.js')).command },
  curate: { summary: 'filter, deduplicate and judge a run or a dataset file', load: async () => (await import('./curate.js')).command },
  review: { summary: 'review samples in the terminal UI', load: async () => (await import('./review.js')).command },
  export: { summary: 'export a run as Alpaca JSON, JSONL, chat messages or DPO preference pairs', load: async () => (await import('./export.js')).command },
  stats: { summary: 'counts, tokens, cost and dataset report of a run or file', load: async () => (await import('./stats.js')).command },
  sample: { summary: 'answer an instruction (or a dataset) with a model', load: async () => (await import('./sample.js')).command },
  score: { summary: 'per-sample loss (and IFD) of a dataset under a model', load: async () => (await import('./score.js')).command },
  train: { summary: 'LoRA fine-tune a base model on a dataset or run', load: async () => (await import('./train.js')).command },
  merge: { summary: 'merge a LoRA adapter into its base model', load: async () => (await import('./merge.js')).command },
  plan: { summary: 'parameter and memory plan of a fine-tune before it starts', load: async () => (await import('./plan.js')).command },
};
