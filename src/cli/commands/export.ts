import type { Command, CommandContext } from '../command.js';
import { flagString, requireFlag } from '../flags.js';
import { exportFormatSchema, writeSamples } from '../../data/alpaca-file.js';
import { UsageError } from '../../errors.js';
import { isStdoutPath } from '../../io/write-output.js';
import { RunStore, type StoredItem } from '../../store/run-store.js';
import { dpoFormatSchema, type DpoFormat } from '../../pairs/dpo-formats.js';
import { pairModes, type PairMode } from '../../pairs/preference-pairs.js';

const selections = {
  /** What training uses: accepted by review, or kept by curation and not rejected by review. */
  kept: (s: RunStore) => s.usableItems(),
  accepted: (s: RunStore) => s.listItems({ review: ['accepted'] }),
  rejected: (s: RunStore) => s.listItems().filter((i) => i.review === 'rejected' || (i.review !== 'accepted' && i.status !== 'kept' && i.status !== 'dropped')),
  duplicate: (s: RunStore) => s.listItems({ status: ['duplicate'] }),
  all: (s: RunStore) => s.listItems({ status: ['kept', 'rejected', 'duplicate'] }),
} satisfies Record<string, (s: RunStore) => StoredItem[]>;

export const command: Command = {
  name: 'export',
  summary: 'export a run as a dataset file',
  usage: `usage: alpaca-forge export --run output/NAME --out FILE [--format alpaca|jsonl|messages|dpo|dpo-chat|dpo-alpaca] [--status kept|accepted|rejected|duplicate|all]

  --format alpaca     a JSON list of {instruction, input, output}, as stanford_alpaca's alpaca_data.json (default)
  --format jsonl      the same, one object per line
  --format messages   chat JSONL: {"messages": [{"role": "user", …}, {"role": "assistant", …}]}
  --status kept       kept by curation and not rejected in review, plus everything accepted in review (default)
  --status accepted   only samples accepted in review

Preference pairs (after \`respond\` and a ranking by \`review --rank\` or \`curate --rank\`; a person's ranking first):
  --format dpo        TRL preference JSONL: {"prompt": Alpaca prompt, "chosen": …, "rejected": …}
  --format dpo-chat   TRL conversational JSONL: prompt, chosen and rejected as lists of chat messages
  --format dpo-alpaca LLaMA-Factory JSON list: {instruction, input, chosen, rejected} (dataset_info: "ranking": true)
  --pairs best-worst  one pair per sample: best against worst (default)
  --pairs all         every pair a ranking implies (ties give none)

  --out -             write to stdout; a missing parent folder of --out is created, a symlink is written through`,
  options: { run: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, status: { type: 'string' }, pairs: { type: 'string' } },
  async run(ctx) {
    const runDir = requireFlag(ctx.values, 'run', 'output/NAME');
    const out = requireFlag(ctx.values, 'out', 'FILE');
    const formatName = flagString(ctx.values, 'format') ?? 'alpaca';
    const status = flagString(ctx.values, 'status') ?? 'kept';
    if (!(status in selections)) throw new UsageError(`--status must be one of ${Object.keys(selections).join(', ')}`);
    const dpo = dpoFormatSchema.safeParse(formatName);
    if (dpo.success) return exportPairsCommand(ctx, runDir, out, dpo.data, status as keyof typeof selections);
    if (flagString(ctx.values, 'pairs') !== undefined) throw new UsageError('--pairs is for the preference formats', 'use it with --format dpo, dpo-chat or dpo-alpaca');
    const format = exportFormatSchema.safeParse(formatName);
    if (!format.success) throw new UsageError(`--format must be alpaca, jsonl, messages, dpo, dpo-chat or dpo-alpaca, got "${formatName}"`);
    const store = RunStore.open(runDir);
    try {
      store.assertNotRunFile({ path: out, label: '--out' });
      const items = selections[status as keyof typeof selections](store);
      writeSamples(out, items, format.data, { label: '--out', stdout: ctx.write });
      // With the dataset on stdout the count goes to stderr, so the data stays parseable.
      const toStdout = isStdoutPath(out);
      (toStdout ? ctx.err : ctx.out)(`wrote ${items.length} samples (${status}) to ${toStdout ? 'stdout' : out}`);
    } finally {
      store.close();
    }
    return 0;
  },
};

async function exportPairsCommand(ctx: CommandContext, runDir: string, out: string, format: DpoFormat, status: keyof typeof selections): Promise<number> {
  const mode = flagString(ctx.values, 'pairs') ?? 'best-worst';
  if (!(pairModes as readonly string[]).includes(mode)) throw new UsageError(`--pairs must be best-worst or all, got "${mode}"`);
  const { exportPairs } = await import('../../pairs/export-pairs.js');
  const store = RunStore.open(runDir);
  try {
    store.assertNotRunFile({ path: out, label: '--out' });
    const r = exportPairs(store, selections[status](store), { out, format, pairs: mode as PairMode, write: { label: '--out', stdout: ctx.write } });
    // With the pairs on stdout the report goes to stderr, so the data stays parseable.
    const toStdout = isStdoutPath(out);
    (toStdout ? ctx.err : ctx.out)(`wrote ${r.pairs} preference pairs (${format}, ${mode}) to ${toStdout ? 'stdout' : out}: ${r.fromHuman} samples ranked by a person, ${r.fromJudge} by the judge`);
    if (r.unranked) ctx.err(`${r.unranked} of ${r.withResponses} samples with responses have no ranking to pair from: rank them with \`alpaca-forge review --run ${runDir} --rank\` or \`curate --run ${runDir} --rank\``);
    if (r.withResponses === 0) ctx.err(`no sample has two responses yet: run \`alpaca-forge respond --run ${runDir} --responses 4\` first`);
    if (r.stale) {
      const ex = r.staleExample!;
      ctx.err(
        `${r.stale} sample${r.stale === 1 ? ' has' : 's have'} responses ${r.stale === 1 ? 'its ranking' : 'their rankings'} never saw (${r.stale === 1 ? '' : 'one '}ranked ${ex.ranked} of ${ex.responses}): their pairs come from the older ranking; rank again with \`alpaca-forge curate --run ${runDir} --rank\` (rates only the new responses) or \`review --run ${runDir} --rank\``,
      );
    }
    if (r.identical) ctx.err(`${r.identical} pairs left out: chosen and rejected had the same text`);
    if (format === 'dpo-alpaca') ctx.err('LLaMA-Factory dataset_info.json entry: {"file_name": "…", "ranking": true, "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen", "rejected": "rejected"}}');
  } finally {
    store.close();
  }
  return 0;
}
