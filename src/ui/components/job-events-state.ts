import type { TransportState } from '../../events.js';

/** The event shapes a request-loop job (respond, the judge) reports: start, progress, transport, warning, done. */
type LoopJobEvent = { type: 'start' } | { type: 'progress' } | { type: 'transport'; transport: TransportState } | { type: 'warning'; message: string } | { type: 'done' };

/** What a job screen shows, folded from its job's events: the latest start, progress and done, and the last warnings. */
export interface JobEventsState<E extends LoopJobEvent> {
  start: Extract<E, { type: 'start' }> | null;
  progress: Extract<E, { type: 'progress' }> | null;
  transport: TransportState;
  warnings: string[];
  done: Extract<E, { type: 'done' }> | null;
}

export function initialJobEventsState<E extends LoopJobEvent>(): JobEventsState<E> {
  return { start: null, progress: null, transport: { state: 'ok' }, warnings: [], done: null };
}

export function reduceJobEvents<E extends LoopJobEvent>(s: JobEventsState<E>, e: E): JobEventsState<E> {
  switch (e.type) {
    case 'start':
      return { ...s, start: e as Extract<E, { type: 'start' }> };
    case 'progress':
      return { ...s, progress: e as Extract<E, { type: 'progress' }> };
    case 'transport':
      return { ...s, transport: (e as Extract<LoopJobEvent, { type: 'transport' }>).transport };
    case 'warning':
      return { ...s, warnings: [...s.warnings, (e as Extract<LoopJobEvent, { type: 'warning' }>).message].slice(-3) };
    case 'done':
      return { ...s, done: e as Extract<E, { type: 'done' }>, transport: { state: 'ok' } };
  }
}
