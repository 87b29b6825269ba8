import { z } from 'zod';

/** kept: what training uses (kept and not rejected in review, or accepted); accepted: accepted in review only. */
export const respondSelectionSchema = z.enum(['kept', 'accepted']);
export type RespondSelection = z.output<typeof respondSelectionSchema>;

/**
 * `respond`'s settings, for the command and the terminal UI alike, so their defaults and limits are written once.
 * The models, top_p, concurrency and budget default to the run's and forge.yaml's generation settings, which
 * the callers pass in; K has no default.
 */
export const respondSettingsSchema = z.object({
  responses: z.number().int().min(2).max(9).describe('responses per sample, the sample\'s own output included'),
  models: z.array(z.string().min(1)).min(1).describe('models of the new responses, used in turn (response i by models[(i - 1) % n])'),
  temperature: z.number().min(0).max(2).default(1),
  topP: z.number().min(0).max(1),
  maxTokens: z.number().int().min(1).default(1024),
  status: respondSelectionSchema.default('kept'),
  concurrency: z.number().int().min(1).max(1024),
  budgetUsd: z.number().min(0).nullable().describe('stop before the run\'s responses would cost more than this (USD); null = no limit'),
  prompt: z.string().min(1).default('respond').describe('prompts/NAME.LANG.txt or a file path'),
});
export type RespondSettings = z.output<typeof respondSettingsSchema>;
export type RespondSettingsInput = z.input<typeof respondSettingsSchema>;

/** The defaults a form shows before the user changes them. */
export const respondDefaults = respondSettingsSchema.pick({ temperature: true, maxTokens: true, status: true, prompt: true }).parse({});
