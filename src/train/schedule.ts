/**
 * Learning-rate schedules with linear warmup, as transformers' get_{cosine,linear,constant}_schedule_with_warmup
 * define them: the update with 0-based index `step` uses `lr * factor(step)`, so the first update of a warmed-up
 * run uses lr 0, exactly as a Hugging Face Trainer run does.
 */
export type LrSchedule = 'cosine' | 'linear' | 'constant';

export function learningRateAt(step: number, opts: { lr: number; schedule: LrSchedule; warmupSteps: number; totalSteps: number }): number {
  const { lr, schedule, warmupSteps, totalSteps } = opts;
  if (step < warmupSteps) return (lr * step) / Math.max(1, warmupSteps);
  if (schedule === 'constant') return lr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (schedule === 'linear') return lr * Math.max(0, 1 - progress);
  return lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
