import type { CommandContext } from './command.js';
import { flagBool, flagString } from './flags.js';
import { UsageError } from '../errors.js';

/** curate --run DIR --reward-model RM: the judge's ranking from a trained reward model. */
export async function rankWithRewardModel(ctx: CommandContext, runDir: string | undefined, dir: string): Promise<number> {
  if (runDir === undefined) throw new UsageError('--reward-model ranks the candidate responses of a run', 'use --run DIR after `alpaca-forge respond --run DIR --responses K`');
  for (const f of ['judge', 'rank', 'rejudge']) if (flagBool(ctx.values, f)) throw new UsageError(`--${f} asks the LLM judge; --reward-model ranks without it`, 'pass one of the two');
  const [{ loadRewardModel }, { rankRunWithRewardModel }, { RunStore }, { selectBackend }] = await Promise.all([
    import('../train/methods/reward-model.js'),
    import('../train/reward-ranking.js'),
    import('../store/run-store.js'),
    import('../model/backend.js'),
  ]);
  await selectBackend(undefined, { log: ctx.err });
  const rm = await loadRewardModel(dir, { modelDir: flagString(ctx.values, 'model') });
  const store = RunStore.open(runDir);
  try {
    const r = await rankRunWithRewardModel(store, rm);
    if (flagBool(ctx.values, 'json')) ctx.out(JSON.stringify({ rewardModel: dir, ...r }));
    else {
      ctx.out(`ranked ${r.ranked} samples by the reward model ${dir}${r.withTies ? ` (${r.withTies} with ties)` : ''}`);
      if (r.skipped) ctx.err(`${r.skipped} samples have fewer than two answered responses: run alpaca-forge respond --run ${runDir} --responses 4 for them`);
    }
    return 0;
  } finally {
    store.close();
    rm.dispose();
  }
}
