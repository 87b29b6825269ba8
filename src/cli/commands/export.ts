import type { Command } from '../command.js';
import { flagString, requireFlag } from '../flags.js';
import { exportFormatSchema, writeSamples } from '../../data/alpaca-file.js';
import { UsageError } from '../../errors.js';
import { isStdoutPath } from '../../io/write-output.js';
import { RunStore, type StoredItem } from '../../store/run-store.js';

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
  usage: `usage: alpaca-forge export --run output/NAME --out FILE [--format alpaca|jsonl|messages] [--status kept|accepted|rejected|duplicate|all]

  --format alpaca     a JSON list of {instruction, input, output}, as stanford_alpaca's alpaca_data.json (default)
  --format jsonl      the same, one object per line
  --format messages   chat JSONL: {"messages": [{"role": "user", …}, {"role": "assistant", …}]}
  --status kept       kept by curation and not rejected in review, plus everything accepted in review (default)
  --status accepted   only samples accepted in review
  --out -             write to stdout; a missing parent folder of --out is created, a symlink is written through`,
  options: { run: { type: 'string' }, out: { type: 'string' }, format: { type: 'string' }, status: { type: 'string' } },
  async run(ctx) {
    const runDir = requireFlag(ctx.values, 'run', 'output/NAME');
    const out = requireFlag(ctx.values, 'out', 'FILE');
    const format = exportFormatSchema.safeParse(flagString(ctx.values, 'format') ?? 'alpaca');
    if (!format.success) throw new UsageError(`--format must be alpaca, jsonl or messages`);
    const status = flagString(ctx.values, 'status') ?? 'kept';
    if (!(status in selections)) throw new UsageError(`--status must be one of ${Object.keys(selections).join(', ')}`);
    const store = RunStore.open(runDir);
    try {
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
