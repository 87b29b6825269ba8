import type { TrainEvent } from '../../events.js';

type Start = Extract<TrainEvent, { type: 'start' }>;
type Step = Extract<TrainEvent, { type: 'step' }>;
type Done = Extract<TrainEvent, { type: 'done' }>;

/** What the train screen shows, folded from the trainer's events. */
export interface TrainState {
  phase: string | null;
  start: Start | null;
  last: Step | null;
  /** [step, loss] of every step: the curve */
  loss: Array<[number, number]>;
  /** [step, eval loss] of every evaluation */
  evalLoss: Array<[number, number]>;
  lastCheckpoint: { step: number; dir: string } | null;
  warnings: string[];
  done: Done | null;
}

export const initialTrainState: TrainState = {
  phase: null,
  start: null,
  last: null,
  loss: [],
  evalLoss: [],
  lastCheckpoint: null,
  warnings: [],
  done: null,
};

export function reduceTrain(s: TrainState, e: TrainEvent): TrainState {
  switch (e.type) {
    case 'phase':
      return { ...s, phase: e.detail ? `${e.phase}: ${e.detail}` : e.phase };
    case 'warning':
      return { ...s, warnings: [...s.warnings, e.message].slice(-3) };
    case 'start':
      return { ...s, start: e, phase: null };
    case 'step':
      // A resumed run replays from its checkpoint step: drop points at or after it so the curve does not fold back.
      return { ...s, last: e, phase: null, loss: [...s.loss.filter(([x]) => x < e.step), [e.step, e.loss]] };
    case 'eval':
      return { ...s, evalLoss: [...s.evalLoss.filter(([x]) => x !== e.step), [e.step, e.evalLoss]], phase: null };
    case 'checkpoint':
      return { ...s, lastCheckpoint: { step: e.step, dir: e.dir } };
    case 'done':
      return { ...s, done: e, phase: null };
  }
}
