import { z } from 'zod';

/** The language of a run's samples: it picks seeds, the prompt template, the language rules and the tokeniser. */
export const langSchema = z.enum(['en', 'zh']);
export type Lang = z.infer<typeof langSchema>;

/** One Alpaca-format sample, as stanford_alpaca's alpaca_data.json stores it. `input` may be absent in files. */
export const sampleSchema = z.object({
  instruction: z.string(),
  input: z.string().default(''),
  output: z.string(),
});
/** The text triple every sample carries: in files, in the run store, in edits and in exports. */
export type Sample = z.output<typeof sampleSchema>;

/** A file's language when none is given: Chinese when most instructions have Chinese characters. */
export function detectLang(samples: ReadonlyArray<{ instruction: string }>): Lang {
  const zh = samples.filter((s) => /\p{Script=Han}/u.test(s.instruction)).length;
  return samples.length > 0 && zh / samples.length > 0.5 ? 'zh' : 'en';
}
