import nlp from 'compromise/two';

/**
 * The diversity analysis of Self-Instruct (Wang et al. 2023, Fig. 2) and Alpaca: the root verb of an instruction
 * and its first direct-object noun ("Write a short story about…" → write/story).
 */
export interface VerbObject {
  verb: string;
  object: string | null;
}

interface Term {
  normal: string;
  root?: string;
  tags: Set<string>;
}

const SKIP_LEAD = new Set(['please', 'kindly', 'now', 'also', 'then', 'just', 'briefly']);
// "Can you…", "Could you please…": the request wrapper, not the task verb.
const WRAPPER = /^(?:can|could|would|will)\s+you\s+(?:please\s+)?/i;
// Quantifier-like words compromise may tag as nouns; they are never the object itself ("Find all the words").
const NOT_OBJECT = new Set(['all', 'more', 'most', 'some', 'any', 'one', 'ones', 'each', 'other', 'others', 'following', 'few', 'many', 'several', 'both', 'either', 'none', 'something', 'anything', 'everything', 'lot', 'kind', 'type', 'sort']);
const OBJECT_SKIP = new Set(['Determiner', 'Adjective', 'Value', 'Adverb', 'Possessive', 'Pronoun', 'Cardinal', 'Ordinal', 'Comparable']);

/**
 * English, with compromise's part-of-speech tagger (no dependency parser exists for JS): the task verb is the
 * first word (after "please", "Can you…") when it is a verb, or when it is tagged as a singular noun but is
 * followed by what an object starts with (compromise tags sentence-initial "Brainstorm"/"Paraphrase" as nouns);
 * questions and statements have no task verb. The object is the last noun of the first noun group after the
 * verb, skipping determiners, adjectives, numbers and indirect-object pronouns ("Tell me a joke" → joke), in
 * singular form; a preposition, verb or question word first means no direct object ("Explain how…").
 * Only the first sentence's first 10 words are tagged: the pair is always there, and tagging is the cost.
 */
export function englishVerbObject(instruction: string): VerbObject | null {
  const first = instruction.trim().split(/(?<=[.?!])\s|\n/)[0] ?? '';
  const text = first.replace(WRAPPER, '').split(/\s+/).slice(0, 10).join(' ');
  if (!text) return null;
  const doc = nlp(text);
  doc.compute('root');
  const terms = ((doc as unknown as { docs: Term[][] }).docs[0] ?? []).filter((t) => t.normal !== '');
  let i = 0;
  while (i < terms.length && (SKIP_LEAD.has(terms[i]!.normal) || terms[i]!.tags.has('Expression'))) i++;
  const head = terms[i];
  if (!head) return null;
  const next = terms[i + 1];
  const isVerb =
    (head.tags.has('Verb') && !head.tags.has('Copula') && !head.tags.has('Modal') && !head.tags.has('Gerund') && !head.tags.has('PastTense') && !head.tags.has('Auxiliary')) ||
    (head.tags.has('Singular') && !head.tags.has('ProperNoun') && next !== undefined && ['Determiner', 'Adjective', 'Value', 'Pronoun', 'Possessive', 'Plural'].some((t) => next.tags.has(t)));
  if (!isVerb || !/^[a-z][a-z-]*$/.test(head.normal)) return null;
  const verb = head.tags.has('Verb') ? (head.root ?? head.normal) : head.normal;
  let object: string | null = null;
  for (let j = i + 1; j < terms.length; j++) {
    const t = terms[j]!;
    if (NOT_OBJECT.has(t.normal) || t.normal === 'of') {
      // "a list of ideas" keeps "list"; but "all of the words", "more of": look past the quantifier.
      if (t.normal === 'of' && j > i + 1 && !NOT_OBJECT.has(terms[j - 1]!.normal)) break;
      continue;
    }
    if (t.tags.has('Noun') && !t.tags.has('Pronoun')) {
      // Head of the noun group: "the following sentence" → sentence, "air pollution" → pollution.
      let k = j;
      while (k + 1 < terms.length && terms[k + 1]!.tags.has('Noun') && !terms[k + 1]!.tags.has('Pronoun') && !NOT_OBJECT.has(terms[k + 1]!.normal)) k++;
      const n = terms[k]!;
      object = n.root ?? n.normal;
      break;
    }
    if ([...OBJECT_SKIP].some((s) => t.tags.has(s))) continue;
    break;
  }
  if (object !== null && !/^[a-z][a-z-]*$/.test(object)) object = null;
  return { verb, object };
}

// Chinese: no segmenter or parser is bundled, so this is a documented heuristic. Longest entries first.
const ZH_PREFIX = /^(?:请你|请您|请|麻烦你|麻烦|帮我|帮忙|你能否|你能|你可以|能否|能不能|可以|试着|尝试|现在|简要|简单|简短|详细)+/;
const ZH_VERBS = [
  '写出', '写', '编写', '撰写', '创作', '生成', '创建', '制作', '设计', '构思', '起草', '拟定', '想出', '编', '列出', '列举', '给出', '提供',
  '举出', '举', '描述', '描写', '解释', '说明', '阐述', '介绍', '总结', '概括', '归纳', '翻译', '改写', '重写', '润色', '修改', '改正', '纠正',
  '分类', '判断', '识别', '找出', '找到', '确定', '比较', '对比', '分析', '评价', '评估', '计算', '求', '推荐', '建议', '提出', '回答', '讨论',
  '预测', '命名', '选择', '排序', '整理', '转换', '转化', '编辑', '复述', '扩写', '续写', '造句', '告诉', '定义', '猜', '讲', '说出', '想象',
  '制定', '规划', '证明', '推导', '表达', '优化', '简化', '检查', '提取', '抽取', '标注', '补全', '完成', '填写', '回复', '模仿', '解答', '解',
  '取', '提', '实现', '推理出', '推理', '归入', '加上', '对出', '阅读',
].sort((a, b) => b.length - a.length);
// A leading prepositional phrase comes before the task verb. After these its object is a noun phrase that may hold
// verb-like words ("根据下面的描述，…"), so the verb is looked for after the comma…
const ZH_LEAD_CLAUSE = /^(?:根据|按照|依据|针对|对于|基于|结合|参考)/;
// …and after these the verb usually follows their short object in the same clause ("用一句话概括", "为奶奶写").
const ZH_LEAD_SHORT = /^(?:从|用|以|为|给|在|通过|向)/;
// In a 把 sentence the verb is the one with a result complement ("把…专业解释改写成…": 改写, not 解释).
const ZH_RESULT = /^[成为到入进给]/;
const ZH_BA = /^(?:把|将)/;
const ZH_QUANTITY = /^(?:第?[一二三四五六七八九十两几]+(?:个|首|篇|段|封|份|句|条|种|项|点|本|部|道|位|只|张|件|则|组|款|类|行|些|周|天|步)|第?\d+\s*(?:个|首|篇|段|封|份|句|条|种|项|点|本|部|道|位|只|张|件|则|组|款|类|行|些|周|天|步)?|[这那该每此](?:个|首|篇|段|句|些|份|条|封|种|位|则|项|道|张|件|组|类)?|一些|一下|若干|出|下面的|以下的|下列的|下列|下面|以下|给定的|给定|所给的|所给|如下的|上述的|上述)/;
// Where an object phrase ends. Only words that are rarely part of a noun: 用/中/成… would cut 实用, 中文, 成语.
const ZH_STOP = /[，。？！、,.;；：:“”"'‘’（）()《》]|关于|有关|并且|并|然后|和|与|及|吗|呢|是|属于|还是|或|有没有|哪/;
const ZH_QUESTION = /^(?:什么|为什么|如何|怎么|怎样|哪|谁|是否|多少)/;

/** The listed verb that starts at `text[i]`, longest first. */
function zhVerbAt(text: string, i: number): string | undefined {
  return ZH_VERBS.find((v) => text.startsWith(v, i));
}

/** The head noun of a Chinese object phrase: quantities and demonstratives dropped, the part after the last 的. */
function zhHead(phrase: string): string | null {
  let rest = phrase;
  for (let k = 0; k < 3; k++) rest = rest.replace(ZH_QUANTITY, '');
  if (ZH_QUESTION.test(rest)) return null;
  if (/^(?:关于|有关)/.test(rest)) {
    const de = rest.indexOf('的');
    rest = de >= 0 ? rest.slice(de + 1) : '';
  }
  const stop = ZH_STOP.exec(rest);
  let head = stop ? rest.slice(0, stop.index) : rest;
  const de = head.lastIndexOf('的');
  if (de >= 0) head = head.slice(de + 1);
  const object = [...head].filter((c) => /\p{Script=Han}/u.test(c)).slice(0, 6).join('');
  return object || null;
}

/**
 * Chinese: the task verb is one of ~100 common instruction verbs (写, 解释, 列出, 总结, 翻译…), found at the start
 * after polite prefixes (请, 你能…); after a leading prepositional phrase ("根据下面的描述，取…" after the comma,
 * "用一句话概括…" within the clause); or after the object in a 把/将 sentence, preferring the verb with a result
 * complement ("把下面的句子翻译成英文" → 翻译/句子). The object is the noun phrase that follows the verb (or sits
 * between 把 and the verb), with numerals with measure words, demonstratives and "下面的/以下" dropped and only the
 * part after the last 的 kept ("列出三个保持健康的建议" → 列出/建议, "写一首关于春天的诗" → 写/诗), at most six
 * characters. A question word right after the verb means no
 * object. Instructions that are questions or statements have no pair.
 */
export function chineseVerbObject(instruction: string): VerbObject | null {
  const text = instruction.trim().replace(ZH_PREFIX, '');
  if (ZH_QUESTION.test(text)) return null;
  const lead = zhVerbAt(text, 0);
  if (lead) return { verb: lead, object: zhHead(text.slice(lead.length)) };
  if (ZH_BA.test(text)) {
    let first: { v: string; i: number } | null = null;
    for (let i = 1; i < Math.min(text.length, 40); i++) {
      const v = zhVerbAt(text, i);
      if (!v) continue;
      first ??= { v, i };
      if (ZH_RESULT.test(text.slice(i + v.length))) return { verb: v, object: zhHead(text.slice(1, i)) };
    }
    return first ? { verb: first.v, object: zhHead(text.slice(1, first.i)) } : null;
  }
  const clause = ZH_LEAD_CLAUSE.test(text);
  if (clause || ZH_LEAD_SHORT.test(text)) {
    const comma = text.search(/[，,]/);
    const from = clause && comma > 0 && comma < 30 ? comma + 1 : 1;
    for (let i = from; i < Math.min(text.length, from + 30); i++) {
      const v = zhVerbAt(text, i);
      if (v) return { verb: v, object: zhHead(text.slice(i + v.length)) };
    }
  }
  return null;
}
