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
    if (t.tags.has('Noun') && !t.tags.has('Pronoun')) {
      // Head of the noun group: "the following sentence" → sentence, "air pollution" → pollution.
      let k = j;
      while (k + 1 < terms.length && terms[k + 1]!.tags.has('Noun') && !terms[k + 1]!.tags.has('Pronoun')) k++;
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
const ZH_PREFIX = /^(?:请你|请您|请|麻烦你|麻烦|帮我|帮忙|你能否|你能|你可以|能否|能不能|可以|试着|尝试|现在)+/;
const ZH_VERBS = [
  '写出', '写', '编写', '撰写', '创作', '生成', '创建', '制作', '设计', '构思', '起草', '拟定', '想出', '编', '列出', '列举', '给出', '提供',
  '举出', '举', '描述', '描写', '解释', '说明', '阐述', '介绍', '总结', '概括', '归纳', '翻译', '改写', '重写', '润色', '修改', '改正', '纠正',
  '分类', '判断', '识别', '找出', '找到', '确定', '比较', '对比', '分析', '评价', '评估', '计算', '求', '推荐', '建议', '提出', '回答', '讨论',
  '预测', '命名', '选择', '排序', '整理', '转换', '转化', '编辑', '复述', '扩写', '续写', '造句', '告诉', '定义', '猜', '讲', '说出', '想象',
  '制定', '规划', '证明', '推导', '表达', '优化', '简化', '检查', '提取', '标注', '补全', '完成', '填写', '回复', '模仿', '用',
].sort((a, b) => b.length - a.length);
const ZH_QUANTITY = /^(?:[一二三四五六七八九十两几\d]+\s*(?:个|首|篇|段|封|份|句|条|种|项|点|本|部|道|位|只|张|件|则|组|款|类|行|些)?|这(?:个|首|篇|段|句|些|份|条)?|那(?:个|些)?|该|每个|一下|出|下面的|以下的|下列的|下列|下面|以下|给定的|给定|所给的|所给|如下的|上述的|上述)/;
const ZH_STOP = /[，。？！、,.;；：:\s“”"'‘’（）()《》]|关于|有关|并|然后|和|与|及|用|来|以|在|中|给|对|为|成|到|从|把|将|吗|呢/;
const ZH_QUESTION = /^(?:什么|为什么|如何|怎么|怎样|哪|谁|是否|多少)/;

/**
 * Chinese: the leading verb is one of ~90 common instruction verbs (写, 解释, 列出, 总结…) after polite prefixes
 * (请, 你能…); the object is what follows numerals with measure words, demonstratives and "下面的/以下" up to a
 * function word or punctuation, taking the part after the last 的 ("列出三个保持健康的建议" → 列出/建议,
 * "写一首关于春天的诗" → 写/诗), at most four characters. A question word after the verb means no object.
 * Instructions that do not start with a listed verb have no pair.
 */
export function chineseVerbObject(instruction: string): VerbObject | null {
  const text = instruction.trim().replace(ZH_PREFIX, '');
  const verb = ZH_VERBS.find((v) => text.startsWith(v));
  if (!verb) return null;
  let rest = text.slice(verb.length);
  for (let k = 0; k < 3; k++) rest = rest.replace(ZH_QUANTITY, '');
  if (ZH_QUESTION.test(rest)) return { verb, object: null };
  // "关于春天的诗": the noun after the modifier.
  if (/^(?:关于|有关)/.test(rest)) {
    const de = rest.indexOf('的');
    rest = de >= 0 ? rest.slice(de + 1) : '';
  }
  const stop = ZH_STOP.exec(rest);
  let phrase = stop ? rest.slice(0, stop.index) : rest;
  const de = phrase.lastIndexOf('的');
  if (de >= 0) phrase = phrase.slice(de + 1);
  const object = [...phrase].filter((c) => /\p{Script=Han}/u.test(c)).slice(0, 4).join('');
  return { verb, object: object || null };
}
