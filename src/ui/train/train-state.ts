import type { TrainEvent } from '../../events.js';

type Start = Extract<TrainEvent, { type: 'start' }>;
type Step = Extract<TrainEvent, { type: 'step' }>;
type Eval = Extract<TrainEvent, { type: 'eval' }>;
type Done = Extract<TrainEvent, { type: 'done' }>;

/** [step, value] points of one figure, in step order. */
export type Series = Array<[number, number]>;

/** What the train screen shows, folded from the trainer's events. */
export interface TrainState {
  phase: string | null;
  start: Start | null;
  /** the method named by the start event (sft when an emitter names none) */
  method: string;
  last: Step | null;
  lastEval: Eval | null;
  /** every step's figures by name: `loss`, and each key of the step's metrics (TRL's names) */
  steps: Record<string, Series>;
  /** every evaluation's figures by name: `loss` (the eval loss), and each key of its metrics */
  evals: Record<string, Series>;
  lastCheckpoint: { step: number; dir: string } | null;
  warnings: string[];
  done: Done | null;
}

export const initialTrainState: TrainState = {
  phase: null,
  start: null,
  method: 'sft',
  last: null,
  lastEval: null,
  steps: {},
  evals: {},
  lastCheckpoint: null,
  warnings: [],
  done: null,
};

/**
 * Adds one step's figures to the series. `replay`: a resumed run replays from its checkpoint step, so points at or
 * after it are dropped first and the curve does not fold back.
 */
function addPoints(series: Record<string, Series>, step: number, figures: Record<string, number>, replay: boolean): Record<string, Series> {
  const out: Record<string, Series> = {};
  for (const [k, points] of Object.entries(series)) out[k] = points.filter(([x]) => (replay ? x < step : x !== step));
  for (const [k, v] of Object.entries(figures)) if (Number.isFinite(v)) out[k] = [...(out[k] ?? []), [step, v]];
  return out;
}

export function reduceTrain(s: TrainState, e: TrainEvent): TrainState {
  switch (e.type) {
    case 'phase':
      return { ...s, phase: e.detail ? `${e.phase}: ${e.detail}` : e.phase };
    case 'warning':
      return { ...s, warnings: [...s.warnings, e.message].slice(-3) };
    case 'start':
      return { ...s, start: e, method: e.method ?? s.method, phase: null };
    case 'step':
      return { ...s, last: e, phase: null, steps: addPoints(s.steps, e.step, { loss: e.loss, ...e.metrics }, true) };
    case 'eval':
      return { ...s, lastEval: e, phase: null, evals: addPoints(s.evals, e.step, { loss: e.evalLoss, ...e.metrics }, false) };
    case 'checkpoint':
      return { ...s, lastCheckpoint: { step: e.step, dir: e.dir } };
    case 'done':
      return { ...s, done: e, phase: null };
  }
}
