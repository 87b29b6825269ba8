/**
 * How the train screen presents a method: which figure is its main curve and what the figure is called. Every
 * other figure the method logs (TRL's keys, carried by the step and eval events) is listed as it comes, so a new
 * method needs at most one row here, and none to have its figures shown.
 */
export interface MethodView {
  /** the figure charted: `loss`, or a metrics key */
  curve: string;
  /** what the main figure is called on the screen */
  label: string;
}

const views: Record<string, MethodView> = {
  sft: { curve: 'loss', label: 'loss' },
  dpo: { curve: 'loss', label: 'DPO loss' },
  rm: { curve: 'loss', label: 'RM loss' },
  // PPO's loss mixes the clipped objective and the value loss; what should rise is the reward (TRL's objective/scores).
  ppo: { curve: 'objective/scores', label: 'mean reward' },
};

export function methodView(method: string): MethodView {
  return views[method] ?? { curve: 'loss', label: 'loss' };
}

/** Figures that are shares of pairs or tokens, shown as percentages. */
const SHARE = /(^|\/)(accuracy|accuracies|clipfrac|clipfrac_avg)$/;

/** One figure as `name value`: a share in percent, anything else with four significant digits. */
export function formatFigure(name: string, value: number): string {
  if (SHARE.test(name)) return `${name} ${(100 * value).toFixed(0)}%`;
  const a = Math.abs(value);
  const text = a !== 0 && (a >= 1e5 || a < 1e-3) ? value.toExponential(2) : value.toPrecision(4).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return `${name} ${text}`;
}

/** The figures of a step or evaluation other than the ones shown on their own, in the order the method logs them. */
export function otherFigures(metrics: Record<string, number> | undefined, shown: readonly string[]): string {
  return Object.entries(metrics ?? {})
    .filter(([k, v]) => !shown.includes(k) && Number.isFinite(v))
    .map(([k, v]) => formatFigure(k, v))
    .join('  ');
}
