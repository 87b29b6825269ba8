import type { RespondEvent, TransportState } from '../../events.js';

type Start = Extract<RespondEvent, { type: 'start' }>;
type Progress = Extract<RespondEvent, { type: 'progress' }>;
type Done = Extract<RespondEvent, { type: 'done' }>;

/** What the respond screen shows, folded from respond's events. */
export interface RespondState {
  start: Start | null;
  progress: Progress | null;
  transport: TransportState;
  warnings: string[];
  done: Done | null;
}

export const initialRespondState: RespondState = { start: null, progress: null, transport: { state: 'ok' }, warnings: [], done: null };

export function reduceRespond(s: RespondState, e: RespondEvent): RespondState {
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
