import { checkBaseUrl, endpointConfigSchema, type GenerationConfig } from '../config/generation.js';
import type { ParsedValues } from './command.js';

/**
 * Where a command's requests go, as `--base-url` (declared `multiple`) overrides forge.yaml: given once, that
 * endpoint alone, in place of any generation.endpoints; several times, a pool of equal endpoints in their place;
 * not at all, forge.yaml's, with $OPENAI_BASE_URL standing in for a baseUrl it leaves null. Every URL is checked
 * like forge.yaml's, the error naming where it came from.
 */
export function baseUrlFlags(values: ParsedValues, g: Pick<GenerationConfig, 'baseUrl' | 'endpoints'>, env: NodeJS.ProcessEnv): Pick<GenerationConfig, 'baseUrl' | 'endpoints'> {
  const flags = values['base-url'] === undefined ? [] : ([values['base-url']].flat() as string[]);
  const urls = flags.map((u) => checkBaseUrl(u, '--base-url')!);
  if (urls.length > 1) return { baseUrl: null, endpoints: urls.map((baseUrl) => endpointConfigSchema.parse({ baseUrl })) };
  if (urls.length === 1) return { baseUrl: urls[0]!, endpoints: [] };
  return { baseUrl: g.baseUrl ?? checkBaseUrl(env['OPENAI_BASE_URL'] || undefined, 'OPENAI_BASE_URL') ?? null, endpoints: g.endpoints };
}
