import { z } from 'zod';
import { generationConfigSchema, pricesSchema } from './generation.js';
import { curationConfigSchema, judgeConfigSchema } from './curation.js';
import { trainConfigSchema } from './train.js';

/**
 * forge.yaml: one section per engine. Unknown keys are errors (a typo must not silently fall back to a default).
 * `.prefault({})` makes a missing section parse as its defaults.
 */
export const forgeConfigSchema = z
  .object({
    generation: generationConfigSchema.prefault({}).describe('self-instruct generation (`alpaca-forge generate`)'),
    curation: curationConfigSchema.prefault({}).describe('rule filters and duplicate removal: online in `generate`, offline in `curate`'),
    judge: judgeConfigSchema.prefault({}).describe('LLM-as-judge scoring (`alpaca-forge curate --judge`)'),
    train: trainConfigSchema.prefault({}).describe('LoRA fine-tuning (`alpaca-forge train`); flags override'),
    prices: pricesSchema,
  })
  .strict();

export type ForgeConfig = z.output<typeof forgeConfigSchema>;
