import type { DpoStepMetrics, TrainEvent } from '../events.js';
import { formatDuration } from '../format.js';
import { formatCount } from './engines/plan.js';

/** The one-line progress text of a step (the live line on a terminal, a log line otherwise). */
export function formatStep(e: Extract<TrainEvent, { type: 'step' }>): string {
  const width = String(e.total).length;
  const dpo = e.dpo ? `  ${formatDpo(e.dpo)}` : '';
  return `step ${String(e.step).padStart(width)}/${e.total}  epoch ${e.epoch.toFixed(2)}  loss ${e.loss.toFixed(4)}${dpo}  lr ${e.lr.toExponential(2)}  grad ${e.gradNorm.toFixed(3)}  ${e.tokensPerSec.toFixed(1)} tok/s  eta ${formatDuration(e.etaSec, '?')}`;
}

function formatDpo(m: DpoStepMetrics): string {
  return `rewards ${m.rewardsChosen.toFixed(3)}/${m.rewardsRejected.toFixed(3)}  margin ${m.margin.toFixed(3)}  acc ${(100 * m.accuracy).toFixed(0)}%`;
}

/** Human text of every other event (null for events that have no line of their own). */
export function formatTrainEvent(e: TrainEvent): string | null {
  switch (e.type) {
    case 'phase':
      return `${e.phase.replace('-', ' ')}${e.detail ? `: ${e.detail}` : ''}…`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'start': {
      const p = e.plan;
      return [
        `backend: ${e.backend} — ${e.device}${p.workers > 1 ? ` × ${p.workers} workers` : ''}`,
        `data: ${p.trainExamples} train / ${p.valExamples} eval samples${p.valSetSizeDefaulted ? ' (--val-set-size not given: 10% of the data, at most 2000)' : ''}${p.droppedExamples ? ` (${p.droppedExamples} skipped)` : ''}, ${p.trainTokensPerEpoch} tokens per epoch (${p.responseTokensPerEpoch} with loss)`,
        `plan: ${p.totalSteps} steps (${p.stepsPerEpoch}/epoch × ${p.epochs} epochs, ${p.microBatchesPerStep} micro-batches each)${p.resumedFromStep ? `, resuming after step ${p.resumedFromStep}` : ''}`,
        `parameters: ${formatCount(p.trainableParams)} trainable of ${formatCount(p.totalParams)} (${((100 * p.trainableParams) / (p.totalParams + p.trainableParams)).toFixed(3)}%)`,
      ].join('\n');
    }
    case 'step':
      return formatStep(e);
    case 'eval':
      if (e.method === 'rm' && e.dpo) {
        const m = e.dpo;
        return `eval at step ${e.step}: reward-model loss ${e.evalLoss.toFixed(4)}  accuracy ${(100 * m.accuracy).toFixed(0)}%  rewards chosen/rejected ${m.rewardsChosen.toFixed(3)}/${m.rewardsRejected.toFixed(3)}  margin ${m.margin.toFixed(3)}`;
      }
      return e.dpo ? `eval at step ${e.step}: DPO loss ${e.evalLoss.toFixed(4)}  ${formatDpo(e.dpo)}` : `eval at step ${e.step}: loss ${e.evalLoss.toFixed(4)} (${e.tokens} tokens)`;
    case 'checkpoint':
      return `checkpoint: ${e.dir}`;
    case 'done': {
      const losses = `train loss ${e.trainLoss === null ? '–' : e.trainLoss.toFixed(4)}, eval loss ${e.evalLoss === null ? '–' : e.evalLoss.toFixed(4)}`;
      return e.interrupted
        ? `stopped after step ${e.step}/${e.totalSteps} (${losses}); checkpoint in ${e.adapterDir}`
        : `done: ${e.step} steps in ${formatDuration(e.seconds, '?')}; final ${losses}; adapter in ${e.adapterDir}`;
    }
  }
}
