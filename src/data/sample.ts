import { z } from 'zod';

/** One Alpaca-format sample, as stanford_alpaca's alpaca_data.json stores it. `input` may be absent in files. */
export const sampleSchema = z.object({
  instruction: z.string(),
  input: z.string().default(''),
  output: z.string(),
});
export type Sample = z.output<typeof sampleSchema>;
