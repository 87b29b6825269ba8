import { z } from 'zod';
import { generationConfigSchema, pricesSchema } from './generation.js';

/**
 * forge.yaml: one section per engine. Unknown keys are errors (a typo must not silently fall back to a default).
 * `.prefault({})` makes a missing section parse as its defaults.
 */
export const forgeConfigSchema = z
  .object({
    generation: generationConfigSchema.prefault({}).describe('self-instruct generation (`alpaca-forge generate`)'),
    prices: pricesSchema,
  })
  .strict();

export type ForgeConfig = z.output<typeof forgeConfigSchema>;
