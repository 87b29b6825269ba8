import type { JudgeEvent, TransportState } from '../../events.js';

type Start = Extract<JudgeEvent, { type: 'start' }>;
type Progress = Extract<JudgeEvent, { type: 'progress' }>;
type Done = Extract<JudgeEvent, { type: 'done' }>;

/** What the judge screen shows, folded from the judge job's events. */
export interface JudgeState {
  start: Start | null;
  progress: Progress | null;
  transport: TransportState;
  warnings: string[];
  done: Done | null;
}

export const initialJudgeState: JudgeState = { start: null, progress: null, transport: { state: 'ok' }, warnings: [], done: null };

export function reduceJudge(s: JudgeState, e: JudgeEvent): JudgeState {
  switch (e.type) {
    case 'start':
      return { ...s, start: e };
    case 'progress':
      return { ...s, progress: e };
    case 'transport':
      return { ...s, transport: e.transport };
    case 'warning':
      return { ...s, warnings: [...s.warnings, e.message].slice(-3) };
    case 'done':
      return { ...s, done: e, transport: { state: 'ok' } };
  }
}
