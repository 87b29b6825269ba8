import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command, CommandContext } from '../command.js';
import { flagBool, flagString } from '../flags.js';
import { loadConfig } from '../../config/load.js';
import { ForgeError, UsageError, exitCodeFor, formatError } from '../../errors.js';
import { RunStore } from '../../store/run-store.js';

const usage = `usage: alpaca-forge review [--run output/NAME] [--runs-dir DIR] [--config forge.yaml]
       alpaca-forge review --run output/NAME --rank

Reviews samples in the terminal UI: a to accept, x to reject, s to skip, e to edit, u to undo, ? for every key.
Each decision is saved in the run at once. Without --run it opens the home screen: the runs under --runs-dir
(default output/), where n starts a new generation and r/c/t review, curate or train a run.

  --run DIR        the run to review (a folder with run.db)
  --runs-dir DIR   where the home screen looks for runs (default output)
  --config FILE    forge.yaml with the defaults of the new-generation and train forms (default ./forge.yaml)
  --rank           rank the candidate responses of each sample (after \`respond\`): b then two numbers picks the
                   best and the worst, o then numbers orders them all, s skips, u undoes; saved at once, and
                   \`export --format dpo\` makes preference pairs of them

Needs a terminal: with stdin or stdout not a TTY, CI set, or --json, it exits with an error.
NO_COLOR turns colours off; $VISUAL or $EDITOR is used by the E key.`;

export const command: Command = {
  name: 'review',
  summary: 'review samples in the terminal UI',
  usage,
  options: {
    run: { type: 'string' },
    'runs-dir': { type: 'string' },
    config: { type: 'string' },
    json: { type: 'boolean' },
    rank: { type: 'boolean' },
  },
  async run(ctx) {
    const terminal = ctx.terminal;
    if (flagBool(ctx.values, 'json') || !terminal) {
      throw new UsageError(
        'review needs a terminal: it is an interactive screen (stdin and stdout must be a TTY, CI unset, no --json)',
        'run it in a terminal; from scripts use `alpaca-forge export --run DIR --status accepted` or `alpaca-forge stats --run DIR`',
      );
    }
    const runDir = flagString(ctx.values, 'run');
    const runsDir = flagString(ctx.values, 'runs-dir') ?? 'output';
    // Fail here, on the plain terminal, rather than inside the UI.
    if (runDir !== undefined) RunStore.open(runDir).close();
    if (flagBool(ctx.values, 'rank')) {
      if (runDir === undefined) throw new UsageError('--rank needs --run DIR', 'e.g. alpaca-forge review --run output/NAME --rank');
      return rankRun(ctx, runDir);
    }
    const { config } = loadConfig(flagString(ctx.values, 'config'));
    const [{ launchApp }, { storeRunAccess }] = await Promise.all([import('../../ui/launch.js'), import('../../review/run-access.js')]);
    const common = {
      runsDir,
      runs: storeRunAccess(),
      config,
      apiKeyFor: (name: string) => ctx.env[name],
      editor: ctx.env['VISUAL'] || ctx.env['EDITOR'] || undefined,
      color: ctx.output.color,
      signal: ctx.signal,
      ...terminal,
    };
    if (runDir !== undefined) {
      await launchApp({ ...common, start: { kind: 'review', runDir } });
      printSummary(ctx, runDir);
      return 0;
    }
    let notice: { text: string; tone: 'good' | 'bad' } | null = null;
    for (;;) {
      const outcome = await launchApp({ ...common, start: { kind: 'home' }, notice });
      if (outcome.kind === 'quit' || ctx.signal.aborted) return 0;
      // Curation prints plain progress lines; it runs on the normal screen and the home screen comes back after,
      // showing curation's headline result (or why it failed).
      const configFlag = flagString(ctx.values, 'config');
      const { code, headline } = await runPlainCommand(['--run', outcome.runDir, ...outcome.args, ...(configFlag !== undefined ? ['--config', configFlag] : [])], ctx);
      notice =
        code === 0
          ? { text: headline ? `curated: ${headline}` : `curated ${outcome.runDir}`, tone: 'good' }
          : { text: `curate ${outcome.runDir} failed (exit ${code})${headline ? `: ${headline}` : ''}`, tone: 'bad' };
    }
  },
};

/**
 * Runs `curate` in plain mode between two screens. Curate is imported directly, not through the command table:
 * the table loads this module, and importing the table back made commands/index ↔ review a cycle.
 */
async function runPlainCommand(args: string[], ctx: CommandContext): Promise<{ code: number; headline: string | null }> {
  ctx.err(`\n$ alpaca-forge curate ${args.join(' ')}`);
  // The first line on stdout is a command's headline result; on failure, the last line on stderr says why.
  let firstOut: string | null = null;
  let lastErr: string | null = null;
  try {
    const cmd = (await import('./curate.js')).command;
    const parsed = parseArgs({ args, options: cmd.options, allowPositionals: true, strict: true });
    const code = await cmd.run({
      ...ctx,
      values: parsed.values as CommandContext['values'],
      positionals: parsed.positionals,
      argv: ['curate', ...args],
      interactive: false,
      output: { ...ctx.output, format: 'plain', screen: false },
      terminal: null,
      out: (line) => {
        if (firstOut === null && line.trim() !== '') firstOut = line.trim();
        ctx.out(line);
      },
      err: (line) => {
        if (line.trim() !== '') lastErr = line.trim().split('\n')[0] ?? null;
        ctx.err(line);
      },
    });
    return { code, headline: code === 0 ? firstOut : lastErr };
  } catch (e) {
    const text = formatError(e);
    ctx.err(text);
    return { code: e instanceof ForgeError ? e.exitCode : exitCodeFor('internal'), headline: text.split('\n')[0] ?? null };
  }
}

async function rankRun(ctx: CommandContext, runDir: string): Promise<number> {
  const { openRankFacade } = await import('../../review/rank-review.js');
  const { launchRankScreen } = await import('../../ui/rank/launch-rank.js');
  const facade = openRankFacade(runDir);
  try {
    await launchRankScreen({ facade, runName: basename(runDir), color: ctx.env['NO_COLOR'] === undefined || ctx.env['NO_COLOR'] === '', signal: ctx.signal });
    const s = facade.summary();
    ctx.err(`rank ${runDir}: ranked ${s.ranked} · skipped ${s.skipped} · not ranked ${s.total - s.ranked - s.skipped} of ${s.total} samples with responses`);
  } finally {
    facade.close();
  }
  return 0;
}

/** One line on the normal screen after the UI closes, so the decisions are on record in the scrollback. */
function printSummary(ctx: CommandContext, runDir: string): void {
  const store = RunStore.open(runDir);
  try {
    const r = store.summary().byReview;
    ctx.err(
      `review ${runDir}: accepted ${r['accepted'] ?? 0} · rejected ${r['rejected'] ?? 0} · skipped ${r['skipped'] ?? 0} · pending ${r['pending'] ?? 0} (saved in ${store.path})`,
    );
  } finally {
    store.close();
  }
}
