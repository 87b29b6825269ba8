import type { Lang } from '../../data/sample.js';

/** Magpie's filters of a generated instruction, each a drop reason recorded like curation's. */
export type MagpieDropReason = 'magpie:empty' | 'magpie:too-short' | 'magpie:too-long' | 'magpie:repeated-lines' | 'magpie:wrong-language' | 'magpie:answer-not-instruction' | 'magpie:repeated-instruction';

export interface MagpieFilterSettings {
  /** Fewer letters or digits than this is too short. Defaults to 10. */
  minChars: number;
  /** More characters than this is too long. Defaults to 2000. */
  maxChars: number;
}

export const defaultMagpieFilterSettings: MagpieFilterSettings = { minChars: 10, maxChars: 2000 };

/**
 * Openings of an assistant's answer: the model sometimes plays the assistant instead of the user, and its "instruction"
 * is then itself an answer.
 */
const ANSWER_OPENINGS = [/^(sure|certainly|of course|absolutely|great question|here is|here's|here are|i'd be happy|i would be happy|i'm happy to|as an ai|hello! how can i|hi! how can i|how can i (help|assist))/i, /^(好的|当然|没问题|以下是|下面是|作为一个?(ai|人工智能)|很高兴为您|您好，有什么)/i];

function languageOf(text: string): 'zh' | 'en' | null {
  const cjk = text.match(/\p{Script=Han}/gu)?.length ?? 0;
  const latin = text.match(/[A-Za-z]/g)?.length ?? 0;
  if (cjk + latin === 0) return null;
  // A Chinese instruction often names an English term or code; Han characters carry far more per character.
  return cjk * 3 >= latin ? 'zh' : 'en';
}

export function magpieFilter(instruction: string, lang: Lang, s: MagpieFilterSettings = defaultMagpieFilterSettings): { reason: MagpieDropReason; detail: string } | null {
  const text = instruction.trim();
  if (text === '') return { reason: 'magpie:empty', detail: 'the model wrote no instruction' };
  const n = text.match(/[\p{L}\p{N}]/gu)?.length ?? 0;
  if (n < s.minChars) return { reason: 'magpie:too-short', detail: `${n} letters/digits, fewer than ${s.minChars}` };
  if (text.length > s.maxChars) return { reason: 'magpie:too-long', detail: `${text.length} characters, more than ${s.maxChars}` };
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length >= 8);
  const seen = new Set<string>();
  for (const l of lines) {
    if (seen.has(l)) return { reason: 'magpie:repeated-lines', detail: `the line "${l.slice(0, 60)}" repeats` };
    seen.add(l);
  }
  const found = languageOf(text);
  if (found !== null && found !== lang) return { reason: 'magpie:wrong-language', detail: `written in ${found}, the run is ${lang}` };
  for (const re of ANSWER_OPENINGS) {
    const m = re.exec(text);
    if (m) return { reason: 'magpie:answer-not-instruction', detail: `it opens like an answer ("${m[0]}")` };
  }
  return null;
}
