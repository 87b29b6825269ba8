import { z } from 'zod';

/**
 * Settings of curation (rules and duplicate removal) and of the LLM judge: forge.yaml's `curation:` and `judge:`
 * sections. Every field has a default and a description; `init` writes them out as commented YAML. Rules see the
 * whole (instruction, input, output) triple; each can be switched off on its own.
 */
const on = (what: string) => z.boolean().default(true).describe(`reject ${what}`);

// Stanford Alpaca's blacklist (generate_instruction.py), plus plurals and the Chinese equivalents. Entries with
// CJK characters match as substrings (Chinese has no spaces between words); the others as whole words.
const defaultBlacklist = [
  'image', 'images', 'graph', 'graphs', 'picture', 'pictures', 'file', 'files', 'map', 'maps', 'draw', 'plot',
  'go to', 'video', 'audio', 'music', 'flowchart', 'diagram',
  '图片', '图像', '照片', '画图', '画一', '绘制', '图表', '流程图', '示意图', '视频', '音频', '音乐', '地图', '文件', '访问网站', '打开网页',
];

const defaultRefusals = [
  'as an ai language model', 'as a language model', 'as an ai assistant', 'as an ai,', 'as an ai model',
  "i'm sorry, but i cannot", "i'm sorry, but i can't", 'i am sorry, but i cannot', "i'm sorry, i cannot", "i'm sorry, i can't",
  'i cannot fulfill', 'i cannot provide', "i can't provide", 'i am unable to', "i'm unable to", 'i am not able to', "i'm not able to",
  "i don't have personal", 'i do not have personal', 'i do not have access to', "i don't have access to", 'my knowledge cutoff',
  "here's the instruction", 'here is the instruction', 'here are the tasks',
  '作为一个人工智能', '作为一个ai', '作为ai', '作为人工智能', '作为一个语言模型', '作为语言模型', '我是一个ai', '我是一个人工智能',
  '抱歉，我无法', '抱歉，我不能', '对不起，我无法', '对不起，我不能', '很抱歉，我无法', '很抱歉，我不能', '我无法提供', '我无法回答',
  '我没有个人', '我无法访问',
];

const rulesSchema = z
  .object({
    controlChars: z
      .object({ enabled: on('items with control characters (other than tab and newline) in any field') })
      .strict()
      .prefault({})
      .describe('rule "control-chars"'),
    wrongLanguage: z
      .object({
        enabled: on('items not written in the language of the run (script detection: a zh run keeps Chinese items)'),
        minShare: z
          .number()
          .min(0)
          .max(1)
          .default(0.5)
          .describe("least share of the run's script among words (a Chinese character counts as a word)"),
        checkOutput: z.boolean().default(true).describe('check the output too, unless the instruction asks for a translation or code'),
        outputExemptWords: z
          .array(z.string())
          .default([
            'translat', 'english', 'chinese', 'french', 'german', 'spanish', 'japanese', 'korean', 'pinyin', 'code', 'program',
            'function', 'python', 'javascript', 'java', 'sql', 'regex', 'regular expression', 'html', 'css', 'c++', 'script',
            '翻译', '英文', '英语', '日语', '法语', '德语', '韩语', '拼音', '代码', '程序', '函数', '正则', '脚本', '编程',
          ])
          .describe('an instruction containing one of these (case-insensitive) may have an output in another script'),
      })
      .strict()
      .prefault({})
      .describe('rule "wrong-language"'),
    instructionLength: z
      .object({
        enabled: on('instructions that are too short or too long'),
        minWords: z.number().int().min(0).default(4).describe('fewest words (Alpaca rejects <= 3)'),
        maxWords: z.number().int().min(1).default(150).describe('most words (Alpaca rejects > 150)'),
        minUnitsZh: z.number().int().min(0).default(4).describe('zh runs: fewest units (a Chinese character or a Latin word is one unit)'),
        maxUnitsZh: z.number().int().min(1).default(300).describe('zh runs: most units'),
      })
      .strict()
      .prefault({})
      .describe('rule "instruction-length"'),
    leadingPunctuation: z
      .object({
        enabled: on('instructions starting with punctuation or a symbol (Alpaca)'),
        allowQuotesZh: z
          .boolean()
          .default(true)
          .describe('zh runs: an opening quotation or title mark (“ 「 『 《) may start an instruction, as in “必须”和“必需”有什么区别？'),
      })
      .strict()
      .prefault({})
      .describe('rule "leading-punctuation"'),
    leadingNonAscii: z
      .object({ enabled: on('instructions starting with a non-ASCII character, in en runs (Alpaca)') })
      .strict()
      .prefault({})
      .describe('rule "leading-non-ascii"'),
    mergedTasks: z
      .object({
        enabled: on('items holding leftovers of several tasks ("Instruction:", "2. Input:", a "###" separator line)'),
        markers: z
          .array(z.string())
          .default(['instruction:', '指令：', '指令:'])
          .describe('case-insensitive; at the start of a line (after an optional list number) they show a leftover task'),
        numberedMarkers: z
          .array(z.string())
          .default(['input:', 'output:', '输入：', '输入:', '输出：', '输出:'])
          .describe('count only after a list number ("2. Output:"), since "Input:"/"Output:" lines occur in worked examples'),
        separatorLines: z.array(z.string()).default(['###']).describe('a line consisting of exactly one of these separates tasks'),
      })
      .strict()
      .prefault({})
      .describe('rule "merged-tasks"'),
    blacklist: z
      .object({
        enabled: on('instructions naming something a text-only model cannot do'),
        words: z
          .array(z.string())
          .default(defaultBlacklist)
          .describe('case-insensitive; Latin entries match whole words, entries with Chinese characters match anywhere'),
      })
      .strict()
      .prefault({})
      .describe('rule "blacklist"'),
    programTask: z
      .object({
        enabled: on('"Write a program"-style tasks (Alpaca rejects instructions starting with "Write a program")'),
        prefixes: z
          .array(z.string())
          .default(['write a program', '编写一个程序', '写一个程序', '编写程序'])
          .describe('case-insensitive instruction prefixes'),
      })
      .strict()
      .prefault({})
      .describe('rule "program-task"'),
    placeholderInput: z
      .object({
        enabled: on('inputs that stand in for content the model never had (a bare URL, "<image>", "N/A")'),
        placeholders: z
          .array(z.string())
          .default(['<noinput>', '<no input>', '<image>', '<img>', '[image]', '<audio>', '<video>', '<file>', 'n/a', 'none', 'null', 'no input', 'picture attached', 'image attached', 'see attached', 'attached', '(image)', '无', '无输入', '空', '图片', '附图', '见附件', '见图'])
          .describe('whole inputs (case-insensitive, surrounding punctuation ignored) that count as placeholders'),
        rejectBareUrl: z.boolean().default(true).describe('an input that is nothing but a URL is a placeholder'),
      })
      .strict()
      .prefault({})
      .describe('rule "placeholder-input"'),
    emptyOutput: z
      .object({
        enabled: on('empty or near-empty outputs'),
        minChars: z.number().int().min(1).default(1).describe('fewest letters, digits or CJK characters an output must have'),
        placeholders: z
          .array(z.string())
          .default(['<nooutput>', '<no output>', 'n/a', 'none', 'null', '...', '无', '略'])
          .describe('whole outputs (case-insensitive) that count as empty'),
      })
      .strict()
      .prefault({})
      .describe('rule "empty-output"'),
    refusal: z
      .object({
        enabled: on('outputs with refusals or model self-talk ("As an AI language model…", "I\'m sorry, but I cannot…")'),
        phrases: z.array(z.string()).default(defaultRefusals).describe('case-insensitive phrases; curly apostrophes match straight ones'),
      })
      .strict()
      .prefault({})
      .describe('rule "refusal"'),
    copiedOutput: z
      .object({ enabled: on('outputs that repeat the input or the instruction (after normalising case and spaces)') })
      .strict()
      .prefault({})
      .describe('rule "copied-output"'),
  })
  .strict();

export const curationConfigSchema = z
  .object({
    rules: rulesSchema.prefault({}).describe('rule filters, applied in this order; the first failing rule is the reason stored'),
    dedup: z
      .object({
        exact: z.boolean().default(true).describe('remove exact duplicates: the same instruction and input after normalising case and spaces'),
        rouge: z.boolean().default(true).describe('remove near-duplicates by ROUGE-L F1 between instructions (as Alpaca)'),
        rougeThreshold: z
          .number()
          .min(0)
          .max(1)
          .default(0.7)
          .describe('an item is a near-duplicate when its F1 against a seed or an earlier kept item is above this'),
        topSimilar: z.number().int().min(0).max(20).default(3).describe('most similar earlier items recorded per item, for review'),
        similarMin: z
          .number()
          .min(0)
          .max(1)
          .default(0.6)
          .describe('least F1 for an earlier item to be recorded as similar; lower finds more but costs time (0.5 is ~2x slower)'),
        minhash: z.boolean().default(false).describe('remove near-duplicates by MinHash-LSH over shingles of instruction and input (for large sets)'),
        minhashThreshold: z
          .number()
          .gt(0)
          .max(1)
          .default(0.8)
          .describe('an item is a near-duplicate when the Jaccard similarity of its shingles with an earlier kept item is at least this (NeMo Curator: 0.8)'),
        minhashNgram: z.number().int().min(1).max(16).default(2).describe('shingle width: word k-grams (character k-grams for Chinese)'),
        minhashSeed: z.number().int().min(0).default(1).describe('seed of the hash functions (a fixed seed gives the same result)'),
        semantic: z.boolean().default(false).describe('remove paraphrases by cosine similarity of embeddings (needs an embeddings endpoint)'),
        semanticThreshold: z.number().min(-1).max(1).default(0.9).describe('an item is a paraphrase when its cosine with an earlier kept item is at least this'),
        embeddingModel: z.string().min(1).default('text-embedding-3-small').describe('model of the /v1/embeddings endpoint'),
        keep: z
          .enum(['first', 'judge', 'longest', 'ifd'])
          .default('first')
          .describe('which copy of a duplicate survives: the first in order, the best judge score, the longest, or the highest IFD'),
      })
      .strict()
      .prefault({})
      .describe('duplicate removal, online during generate and offline in curate'),
  })
  .strict();

export type CurationConfig = z.output<typeof curationConfigSchema>;
export type RuleSettings = CurationConfig['rules'];

export const judgeConfigSchema = z
  .object({
    model: z.string().min(1).nullable().default(null).describe('judge model; null = generation.model'),
    minScore: z
      .number()
      .min(0)
      .max(5)
      .nullable()
      .default(null)
      .describe('samples the judge scores below this are rejected (reason "judge"); null = record scores only'),
    concurrency: z.number().int().min(1).max(256).default(8).describe('judge requests in flight at once'),
    prompt: z
      .string()
      .default('judge')
      .describe('rubric prompt: a name from prompts/ (judge → prompts/judge.LANG.md) or the path of a template file'),
    maxTokens: z.number().int().positive().default(300).describe('max completion tokens of one judgement'),
    temperature: z.number().min(0).max(2).default(0).describe('sampling temperature of the judge'),
    parseRetries: z.number().int().min(0).max(10).default(2).describe('extra requests when an answer is not JSON {score, reason}'),
    rejudge: z.boolean().default(false).describe('judge again samples that already have a score'),
    budgetUsd: z.number().positive().nullable().default(null).describe('stop judging before it would spend more than this (USD); null = no limit'),
  })
  .strict();

export type JudgeConfig = z.output<typeof judgeConfigSchema>;
