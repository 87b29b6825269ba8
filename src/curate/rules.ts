import { UsageError } from '../errors.js';
import type { CurationConfig, RuleSettings } from '../config/curation.js';
import { hasCjk } from './rouge-tokenize.js';
import type { Lang, Sample } from '../data/sample.js';

/** What the rules look at: the whole Alpaca triple. */
export type RuleItem = Sample;

export interface RuleFailure {
  /** The rule's name, e.g. "blacklist"; stored as reason "rule:<name>". */
  rule: RuleName;
  /** What exactly was wrong, for people: 'instruction contains "image"'. */
  reason: string;
}


interface Rule<K extends keyof RuleSettings> {
  name: string;
  key: K;
  check: (item: RuleItem, settings: RuleSettings[K], lang: Lang) => string | null;
}

const HAN = /\p{Script=Han}/u;
const CJK_CHAR = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD]/u;

/** Unicode-compatible, lowercase, straight apostrophes, one space: the form phrases and placeholders compare in. */
function normalise(s: string): string {
  // NFKC is the costly step and the identity on ASCII, which most text is.
  const n = NON_ASCII.test(s) ? s.normalize('NFKC').replace(/[\u2018\u2019\u02BC]/g, "'") : s;
  return n.toLowerCase().replace(/\s+/g, ' ').trim();
}
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Units of text by script: each Han character, each run of Latin letters (with digits), each run of other
 * letters. The first 600 characters tell the language as well as the whole of a long output would.
 */
function scriptUnits(text: string): { han: number; latin: number; other: number } {
  let han = 0;
  let latin = 0;
  let other = 0;
  const head = text.length > 600 ? text.slice(0, 600) : text;
  for (const m of head.matchAll(/(\p{Script=Han})|([\p{Script=Latin}\p{N}]*\p{Script=Latin}[\p{Script=Latin}\p{N}]*)|(\p{L}[\p{L}\p{M}]*)/gu)) {
    if (m[1] !== undefined) han++;
    else if (m[2] !== undefined) latin++;
    else other++;
  }
  return { han, latin, other };
}

function wrongScript(text: string, lang: Lang, minShare: number): string | null {
  const u = scriptUnits(text);
  const total = u.han + u.latin + u.other;
  if (total === 0) return null;
  const share = (lang === 'zh' ? u.han : u.latin) / total;
  if (share >= minShare) return null;
  return `${Math.round(share * 100)}% ${lang === 'zh' ? 'Chinese' : 'Latin-script'} (needs ${Math.round(minShare * 100)}%)`;
}

// Normalised forms of configured word lists, computed once per list: applyRules runs once per item, 52K times a run.
const normalisedCache = new WeakMap<string[], string[]>();
function normalisedList(words: string[]): string[] {
  let n = normalisedCache.get(words);
  if (!n) normalisedCache.set(words, (n = words.map(normalise)));
  return n;
}

const maxLengthCache = new WeakMap<string[], number>();
function maxLength(words: string[]): number {
  let n = maxLengthCache.get(words);
  if (n === undefined) maxLengthCache.set(words, (n = Math.max(0, ...words.map((w) => w.length))));
  return n;
}

function containsAny(text: string, words: string[]): string | null {
  const t = normalise(text);
  const n = normalisedList(words);
  for (let i = 0; i < n.length; i++) if (t.includes(n[i]!)) return words[i]!;
  return null;
}

const blacklistCache = new WeakMap<object, Array<{ word: string; test: (s: string) => boolean }>>();
function blacklistMatchers(words: string[]): Array<{ word: string; test: (s: string) => boolean }> {
  let m = blacklistCache.get(words);
  if (!m) {
    m = words.map((word) => {
      const w = normalise(word);
      if (hasCjk(w)) return { word, test: (s: string) => s.includes(w) };
      const body = w.split(' ').map(escapeRegExp).join('\\s+');
      const re = new RegExp(`(?<![\\p{L}\\p{N}])${body}(?![\\p{L}\\p{N}])`, 'u');
      return { word, test: (s: string) => re.test(s) };
    });
    blacklistCache.set(words, m);
  }
  return m;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Strips punctuation and symbols at both ends: "N/A." and "(N/A)" are "n/a". */
function bare(s: string): string {
  return s.replace(/^[\p{P}\p{S}\s]+|[\p{P}\p{S}\s]+$/gu, '');
}

function isPlaceholder(text: string, placeholders: string[]): string | null {
  // A text much longer than every placeholder is none of them; skipping it avoids normalising whole outputs.
  if (text.length > 2 * maxLength(placeholders) + 16) return null;
  const t = normalise(text);
  const b = bare(t);
  const n = normalisedList(placeholders);
  for (let i = 0; i < n.length; i++) if (t === n[i] || (b !== '' && b === bare(n[i]!))) return placeholders[i]!;
  return null;
}

// "At least k letters or digits", stopping at the k-th: outputs are long and most pass at once.
const enoughCache = new Map<number, RegExp>();
function enoughLetters(text: string, k: number): boolean {
  let re = enoughCache.get(k);
  if (!re) enoughCache.set(k, (re = new RegExp(`^(?:[^\\p{L}\\p{N}]*[\\p{L}\\p{N}]){${k}}`, 'u')));
  return re.test(text);
}

const LIST_NUMBER = String.raw`(?:\d+\s*[.)、]\s*)`;
const markerCache = new WeakMap<object, RegExp | null>();
function markerRegex(s: RuleSettings['mergedTasks']): RegExp | null {
  let re = markerCache.get(s);
  if (re === undefined) {
    const alts: string[] = [];
    if (s.markers.length) alts.push(`${LIST_NUMBER}?(?:${s.markers.map((m) => escapeRegExp(m.trim())).join('|')})`);
    if (s.numberedMarkers.length) alts.push(`${LIST_NUMBER}(?:${s.numberedMarkers.map((m) => escapeRegExp(m.trim())).join('|')})`);
    if (s.separatorLines.length) alts.push(`(?:${s.separatorLines.map((m) => escapeRegExp(m.trim())).join('|')})[ \\t]*$`);
    re = alts.length ? new RegExp(`^[ \\t]*(?:${alts.join('|')})`, 'imu') : null;
    markerCache.set(s, re);
  }
  return re;
}

const rules = [
  {
    name: 'control-chars',
    key: 'controlChars',
    check: (item) => {
      for (const field of ['instruction', 'input', 'output'] as const) {
        const m = CONTROL.exec(item[field]);
        if (m) return `${field} contains ${m[0] === '\uFFFD' ? 'U+FFFD (broken encoding)' : `control character U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`}`;
      }
      return null;
    },
  } satisfies Rule<'controlChars'>,
  {
    name: 'wrong-language',
    key: 'wrongLanguage',
    check: (item, s, lang) => {
      const inst = wrongScript(item.instruction, lang, s.minShare);
      if (inst) return `instruction is ${inst}`;
      if (s.checkOutput && !containsAny(item.instruction, s.outputExemptWords)) {
        const out = wrongScript(item.output, lang, s.minShare);
        if (out) return `output is ${out}`;
      }
      return null;
    },
  } satisfies Rule<'wrongLanguage'>,
  {
    name: 'instruction-length',
    key: 'instructionLength',
    check: (item, s, lang) => {
      if (lang === 'zh') {
        const cjk = item.instruction.match(CJK_CHAR)?.length ?? 0;
        const words = item.instruction.replace(CJK_CHAR, ' ').match(/[\p{L}\p{N}]+/gu)?.length ?? 0;
        const units = cjk + words;
        if (units < s.minUnitsZh) return `instruction has ${units} units (Chinese characters + words), fewer than ${s.minUnitsZh}`;
        if (units > s.maxUnitsZh) return `instruction has ${units} units (Chinese characters + words), more than ${s.maxUnitsZh}`;
        return null;
      }
      // Python's str.split(): runs of whitespace, as Alpaca counted.
      const words = item.instruction.split(/\s+/).filter(Boolean).length;
      if (words < s.minWords) return `instruction has ${words} words, fewer than ${s.minWords}`;
      if (words > s.maxWords) return `instruction has ${words} words, more than ${s.maxWords}`;
      return null;
    },
  } satisfies Rule<'instructionLength'>,
  {
    name: 'leading-punctuation',
    key: 'leadingPunctuation',
    check: (item, s, lang) => {
      const first = item.instruction.trim().charAt(0);
      if (!first || !/[\p{P}\p{S}]/u.test(first)) return null;
      if (lang === 'zh' && s.allowQuotesZh && /[“「『《‘]/.test(first)) return null;
      return `instruction starts with "${first}"`;
    },
  } satisfies Rule<'leadingPunctuation'>,
  {
    name: 'leading-non-ascii',
    key: 'leadingNonAscii',
    check: (item, _s, lang) => {
      if (lang !== 'en') return null;
      const first = item.instruction.trim().codePointAt(0);
      return first !== undefined && first > 0x7f ? `instruction starts with non-ASCII "${String.fromCodePoint(first)}"` : null;
    },
  } satisfies Rule<'leadingNonAscii'>,
  {
    name: 'merged-tasks',
    key: 'mergedTasks',
    check: (item, s) => {
      const re = markerRegex(s);
      if (!re) return null;
      for (const field of ['instruction', 'input', 'output'] as const) {
        const m = re.exec(item[field]);
        if (m) return `${field} holds a task marker "${m[0].trim()}"`;
      }
      return null;
    },
  } satisfies Rule<'mergedTasks'>,
  {
    name: 'blacklist',
    key: 'blacklist',
    check: (item, s) => {
      const t = normalise(item.instruction);
      for (const m of blacklistMatchers(s.words)) if (m.test(t)) return `instruction contains "${m.word}"`;
      return null;
    },
  } satisfies Rule<'blacklist'>,
  {
    name: 'program-task',
    key: 'programTask',
    check: (item, s) => {
      const t = normalise(item.instruction);
      const n = normalisedList(s.prefixes);
      for (let i = 0; i < n.length; i++) if (t.startsWith(n[i]!)) return `instruction starts with "${s.prefixes[i]}"`;
      return null;
    },
  } satisfies Rule<'programTask'>,
  {
    name: 'placeholder-input',
    key: 'placeholderInput',
    check: (item, s) => {
      if (item.input.trim() === '') return null;
      if (s.rejectBareUrl && /^(?:https?:\/\/|www\.)\S+$/i.test(item.input.trim())) return 'input is only a URL';
      const p = isPlaceholder(item.input, s.placeholders);
      return p ? `input is the placeholder "${p}"` : null;
    },
  } satisfies Rule<'placeholderInput'>,
  {
    name: 'empty-output',
    key: 'emptyOutput',
    check: (item, s) => {
      if (!enoughLetters(item.output, s.minChars)) {
        const chars = item.output.match(/[\p{L}\p{N}]/gu)?.length ?? 0;
        return chars === 0 ? 'output has no letters or digits' : `output has ${chars} letters/digits, fewer than ${s.minChars}`;
      }
      const p = isPlaceholder(item.output, s.placeholders);
      return p ? `output is the placeholder "${p}"` : null;
    },
  } satisfies Rule<'emptyOutput'>,
  {
    name: 'refusal',
    key: 'refusal',
    check: (item, s) => {
      const p = containsAny(item.output, s.phrases);
      return p ? `output contains "${p}"` : null;
    },
  } satisfies Rule<'refusal'>,
  {
    name: 'copied-output',
    key: 'copiedOutput',
    check: (item) => {
      const norm = (x: string) => x.normalize('NFKC').replace(/\s+/g, ' ').trim();
      const out = norm(item.output);
      if (out === '') return null;
      if (item.input.trim() !== '' && out === norm(item.input)) return 'output repeats the input';
      if (out === norm(item.instruction)) return 'output repeats the instruction';
      return null;
    },
  } satisfies Rule<'copiedOutput'>,
] as const;

export type RuleName = (typeof rules)[number]['name'];
/** Rule names in the order they are applied. */
export const ruleNames: RuleName[] = rules.map((r) => r.name);

/** The first rule the item fails, or null when it passes every enabled rule. */
export function applyRules(item: RuleItem, cfg: CurationConfig, lang: Lang): RuleFailure | null {
  for (const rule of rules) {
    const settings = cfg.rules[rule.key];
    if (!settings.enabled) continue;
    const why = (rule.check as (i: RuleItem, s: typeof settings, l: Lang) => string | null)(item, settings, lang);
    if (why !== null) return { rule: rule.name, reason: why };
  }
  return null;
}

/** `--rules a,b`: exactly the named rules on ("all" and "none" also accepted). */
export function selectRules(cfg: CurationConfig, names: string[]): CurationConfig {
  const wanted = new Set(names.map((n) => n.trim().toLowerCase()));
  const all = wanted.has('all');
  if (all) wanted.delete('all');
  const none = wanted.has('none');
  if (none) wanted.delete('none');
  for (const n of wanted) {
    if (!ruleNames.includes(n as RuleName)) throw new UsageError(`--rules: unknown rule "${n}"`, `rules are: ${ruleNames.join(', ')} (or "all", "none")`);
  }
  const out = { ...cfg, rules: { ...cfg.rules } } as CurationConfig;
  for (const rule of rules) {
    const enabled = all || (!none && wanted.has(rule.name));
    (out.rules as Record<string, { enabled: boolean }>)[rule.key] = { ...cfg.rules[rule.key], enabled };
  }
  return out;
}
