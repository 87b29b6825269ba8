import type { GenerateEvent, SamplePreview, TransportState } from '../../events.js';

type Start = Extract<GenerateEvent, { type: 'start' }>;
type Progress = Extract<GenerateEvent, { type: 'progress' }>;
type Done = Extract<GenerateEvent, { type: 'done' }>;

/** What the generate screen shows, folded from the engine's events. */
export interface GenerateState {
  start: Start | null;
  progress: Progress | null;
  /** newest first, at most `keepLatest` */
  latest: SamplePreview[];
  transport: TransportState;
  warnings: string[];
  /** Batch mode: the latest state of the current round, in words. */
  batch: string | null;
  done: Done | null;
}

export const initialGenerateState: GenerateState = {
  start: null,
  progress: null,
  latest: [],
  transport: { state: 'ok' },
  warnings: [],
  batch: null,
  done: null,
};

const keepLatest = 50;
const keepWarnings = 5;

export function reduceGenerate(s: GenerateState, e: GenerateEvent): GenerateState {
  switch (e.type) {
    case 'start':
      return { ...s, start: e };
    case 'progress':
      return { ...s, progress: e };
    case 'samples': {
      const seen = new Set(e.latest.map((x) => x.id));
      // Events carry the newest samples; merge so a burst larger than one event's window is not lost from view.
      const merged = [...[...e.latest].sort((a, b) => b.id - a.id), ...s.latest.filter((x) => !seen.has(x.id))];
      return { ...s, latest: merged.slice(0, keepLatest) };
    }
    case 'transport':
      return { ...s, transport: e.transport };
    case 'warning':
      return { ...s, warnings: [...s.warnings, e.message].slice(-keepWarnings) };
    case 'batch':
      return { ...s, batch: e.message };
    case 'done':
      return { ...s, done: e, transport: { state: 'ok' } };
  }
}

/** Rejections by reason, largest first, as the table rows. */
export function rejectionRows(p: Progress | null): Array<{ reason: string; count: number }> {
  if (!p) return [];
  return Object.entries(p.rejections)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, count]) => ({ reason, count }));
}

export function describeTransport(t: TransportState): string {
  if (t.state === 'ok') return 'ok';
  const secs = Math.ceil(t.waitMs / 1000);
  if (t.state === 'backoff') return `backing off ${secs}s (attempt ${t.attempt}): ${t.reason}`;
  return `endpoint down, paused ${secs}s (pause ${t.pause}): ${t.reason}`;
}
