/** Number and time formats shared by every screen. */

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatUsd(n: number): string {
  if (n === 0) return '$0';
  if (n < 0.01) return `$${n.toFixed(4)}`;
  return `$${n.toFixed(2)}`;
}

export { formatDuration } from '../format.js';

export function formatRate(n: number, unit: string): string {
  if (!Number.isFinite(n)) return `— ${unit}`;
  if (n >= 100) return `${Math.round(n)} ${unit}`;
  if (n >= 10) return `${n.toFixed(1)} ${unit}`;
  return `${n.toFixed(2)} ${unit}`;
}

/** A bar of `width` cells: full blocks, one eighth-block for the remainder, and a light track for what is left. */
export function progressBar(done: number, total: number, width: number): string {
  const w = Math.max(1, width);
  const frac = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
  const eighths = Math.round(frac * w * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  const partial = part > 0 ? (['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][part] ?? '') : '';
  return '█'.repeat(full) + partial + '░'.repeat(Math.max(0, w - full - (partial ? 1 : 0)));
}

/** One line of text: newlines shown as ⏎ so a list row never spans two lines. */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ⏎ ').replace(/\t/g, ' ');
}
