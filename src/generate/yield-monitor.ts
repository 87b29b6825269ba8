import type { LowYield } from '../events.js';

export interface YieldMonitorOptions {
  /** Answers the yield is measured over. Defaults to 100. */
  window?: number;
  /** Kept share of requested items under which the yield counts as collapsed. Defaults to 0.05. */
  minShare?: number;
  /** Rejection reasons named in the warning. Defaults to 3. */
  topReasons?: number;
}

/**
 * Watches the kept share of requested items over the last answers, so a run whose prompts, seeds or curation
 * settings reject nearly everything says so instead of spending its budget quietly. It warns once per collapse:
 * after a warning it stays quiet until the yield has recovered above the threshold.
 */
export class YieldMonitor {
  private readonly window: number;
  private readonly minShare: number;
  private readonly topReasons: number;
  private readonly answers: Array<{ requested: number; kept: number; rejections: Record<string, number> }> = [];
  private armed = true;

  constructor(opts: YieldMonitorOptions = {}) {
    this.window = opts.window ?? 100;
    this.minShare = opts.minShare ?? 0.05;
    this.topReasons = opts.topReasons ?? 3;
  }

  /** Records one curated answer; returns the collapse it reveals, the first time it does. */
  record(requested: number, kept: number, rejections: Record<string, number>): LowYield | null {
    this.answers.push({ requested, kept, rejections });
    if (this.answers.length > this.window) this.answers.shift();
    if (this.answers.length < this.window) return null;
    let req = 0;
    let kep = 0;
    const reasons: Record<string, number> = {};
    for (const a of this.answers) {
      req += a.requested;
      kep += a.kept;
      for (const [r, n] of Object.entries(a.rejections)) reasons[r] = (reasons[r] ?? 0) + n;
    }
    const share = req > 0 ? kep / req : 0;
    if (share >= this.minShare) {
      this.armed = true;
      return null;
    }
    if (!this.armed) return null;
    this.armed = false;
    const top = Object.entries(reasons)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, this.topReasons)
      .map(([reason, count]) => ({ reason, count }));
    return { answers: this.answers.length, requested: req, kept: kep, keptShare: share, minShare: this.minShare, topReasons: top };
  }
}

/** The one-line text of a low-yield warning, for logs and the generate screen. */
export function lowYieldMessage(y: LowYield): string {
  const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;
  const reasons = y.topReasons.length ? `; top rejections: ${y.topReasons.map((r) => `${r.reason} ${r.count}`).join(', ')}` : '';
  return (
    `low yield: ${y.kept} of ${y.requested} requested items kept (${pct(y.keptShare)}, under ${pct(y.minShare)}) over the last ${y.answers} answers${reasons}` +
    ' — check the seeds, the template and the curation settings (alpaca-forge stats shows every reason)'
  );
}

/**
 * The one-line reason of a run stopped by the --min-yield floor: the figures, the top rejections, and the commands
 * that continue (more of the same, or a change that brings variety back).
 */
export function lowYieldStopMessage(y: LowYield, kept: number, target: number): string {
  const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;
  const reasons = y.topReasons.length ? `; top rejections: ${y.topReasons.map((r) => `${r.reason} ${r.count}`).join(', ')}` : '';
  return (
    `stopped at ${kept}/${target} kept: only ${y.kept} of ${y.requested} requested items kept over the last ${y.answers} answers (${pct(y.keptShare)}, under --min-yield ${y.minShare})${reasons}` +
    ' — to continue anyway rerun the same command with --min-yield 0; for more variety raise --temperature, or change --seeds or --template (with --allow-change seeds,template)'
  );
}
