/**
 * Tokenisation for ROUGE-L near-duplicate detection.
 *
 * For text without CJK characters this is exactly rouge_score's default tokenizer (google-research/rouge,
 * tokenize.py, no stemmer): `text.lower()`, every run of characters outside [a-z0-9] becomes a separator, empty
 * tokens dropped. So "Don't" → ["don", "t"], "café" → ["caf"], "3.14" → ["3", "14"]. Python's str.lower() and
 * JavaScript's toLowerCase() apply the same Unicode full case mapping, which matters for the few non-ASCII
 * characters that lowercase into ASCII (KELVIN SIGN → "k", "İ" → "i" + combining dot).
 *
 * rouge_score drops every CJK character, so Alpaca's dedup compares Chinese instructions as empty token lists
 * (F1 = 0) and never removes anything. Here each Han, Hiragana, Katakana or Hangul character is one token, in
 * text order with the ASCII words around it; CJK punctuation stays a separator.
 */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const TOKEN = /[a-z0-9]+|[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;

export function hasCjk(text: string): boolean {
  return CJK.test(text);
}

export function rougeTokens(text: string): string[] {
  return text.toLowerCase().match(TOKEN) ?? [];
}
