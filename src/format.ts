/**
 * Number and time formats shared by the CLI's text output, the terminal screens and the reports. Here, outside
 * ui/, so engine code (train progress text, curation reports) can use them without importing the UI.
 */

/**
 * A duration in seconds as 5s, 3m05s or 1h02m. `unknown` stands in for a missing or infinite value (an ETA not
 * known yet): the screens show '—', plain-text lines '?'.
 */
export function formatDuration(sec: number | null | undefined, unknown = '—'): string {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return unknown;
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}
