import { writeOutput } from '../io/write-output.js';
import type { TrainLogRecord } from './train-log.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * The loss curve as a self-contained SVG: training loss per step (light), its moving average (dark) and eval loss
 * (dots). SVG needs no image library and opens in any browser or editor preview.
 */
export function lossChartSvg(records: readonly TrainLogRecord[], title: string, metric?: ChartMetric): string {
  // Another logged figure (PPO's mean reward) is drawn the same way: each record read as { step, loss } of it.
  const view = (key: string) => (r: TrainLogRecord) => ({ ...r, loss: (r as Record<string, number>)[key]!, eval_loss: (r as Record<string, number>)[`eval_${key}`]! }) as TrainLogRecord;
  const drawn = metric ? records.map(view(metric.key)) : records;
  const train = drawn.filter((r): r is Extract<TrainLogRecord, { loss: number }> => 'loss' in r && Number.isFinite(r.loss));
  const evals = drawn.filter((r): r is Extract<TrainLogRecord, { eval_loss: number }> => 'eval_loss' in r && Number.isFinite(r.eval_loss));
  const W = 720;
  const H = 400;
  const m = { l: 60, r: 20, t: 36, b: 44 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const steps = [...train.map((r) => r.step), ...evals.map((r) => r.step)];
  const losses = [...train.map((r) => r.loss), ...evals.map((r) => r.eval_loss)];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  if (steps.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no steps logged yet</text>`, '</svg>');
    return `${out.join('\n')}\n`;
  }
  const x0 = Math.min(...steps);
  const x1 = Math.max(x0 + 1, ...steps);
  let y0 = Math.min(...losses);
  let y1 = Math.max(...losses);
  if (y1 - y0 < 1e-6) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  // A loss is never negative; a reward may be.
  y0 = metric ? y0 - pad : Math.max(0, y0 - pad);
  y1 += pad;
  const X = (s: number) => m.l + ((s - x0) / (x1 - x0)) * pw;
  const Y = (v: number) => m.t + (1 - (v - y0) / (y1 - y0)) * ph;
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 5; i++) {
    const v = y0 + ((y1 - y0) * i) / 5;
    const y = Y(v).toFixed(1);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`, `<text x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${v.toFixed(2)}</text>`);
    const s = x0 + ((x1 - x0) * i) / 5;
    out.push(`<text x="${X(s).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${Math.round(s)}</text>`);
  }
  out.push(`<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">step</text>`, `<text x="14" y="${m.t + ph / 2}" transform="rotate(-90 14 ${m.t + ph / 2})" text-anchor="middle">${esc(metric?.label ?? 'loss (nats/token)')}</text>`);
  const path = (pts: Array<[number, number]>) => pts.map(([s, v], i) => `${i ? 'L' : 'M'}${X(s).toFixed(1)},${Y(v).toFixed(1)}`).join('');
  if (train.length) {
    out.push(`<path d="${path(train.map((r) => [r.step, r.loss]))}" fill="none" stroke="#9ecae1" stroke-width="1"/>`);
    const k = Math.max(1, Math.round(train.length / 50));
    const smooth = train.map((r, i) => {
      const win = train.slice(Math.max(0, i - k + 1), i + 1);
      return [r.step, win.reduce((s, x) => s + x.loss, 0) / win.length] as [number, number];
    });
    out.push(`<path d="${path(smooth)}" fill="none" stroke="#08519c" stroke-width="2"/>`);
  }
  for (const e of evals) out.push(`<circle cx="${X(e.step).toFixed(1)}" cy="${Y(e.eval_loss).toFixed(1)}" r="4" fill="#e6550d"/>`);
  out.push(
    `<g transform="translate(${m.l + pw - 150},${m.t + 10})"><line x1="0" x2="20" y1="0" y2="0" stroke="#08519c" stroke-width="2"/><text x="26" y="4">${metric ? esc(metric.label) : 'train loss'}</text>`,
    `<circle cx="10" cy="18" r="4" fill="#e6550d"/><text x="26" y="22">${metric ? 'eval' : 'eval loss'}</text></g>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

/** A logged key to chart instead of the loss, and its axis label. */
export interface ChartMetric {
  key: string;
  label: string;
}

export function writeLossChart(path: string, records: readonly TrainLogRecord[], title: string, metric?: ChartMetric): void {
  writeOutput(path, lossChartSvg(records, title, metric));
}
