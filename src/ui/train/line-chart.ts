/**
 * A line chart drawn in terminal cells: each series becomes one glyph per column (the mean of the points that fall
 * in that column), later series drawn over earlier ones. Returns rows of runs so a renderer can colour each series.
 */
export interface ChartSeries {
  /** [x, y] pairs; x increasing */
  points: ReadonlyArray<readonly [number, number]>;
  glyph: string;
}

export interface ChartRun {
  text: string;
  /** index of the series drawn here, -1 for axes, labels and blanks */
  series: number;
}

export interface Chart {
  rows: ChartRun[][];
  yMin: number;
  yMax: number;
  xMax: number;
}

const LABEL = 7;

/** Enough decimals that the top, middle and bottom labels differ (a loss moving in its third decimal). */
function fmt(y: number, span: number): string {
  const a = Math.abs(y);
  const base = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  const needed = span > 0 ? Math.ceil(-Math.log10(span / 2)) : 0;
  const digits = Math.min(6, Math.max(base, needed));
  const s = y.toFixed(digits);
  return s.length >= LABEL - 1 ? s.slice(0, LABEL - 1) : s.padStart(LABEL - 1);
}

/** `width` and `height` are the whole chart's size in cells, axes and labels included. */
export function lineChart(series: readonly ChartSeries[], width: number, height: number, xMaxHint = 0): Chart {
  const plotW = Math.max(2, width - LABEL);
  const plotH = Math.max(2, height - 1);
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const xMax = Math.max(xMaxHint, ...all.map(([x]) => x), 1);
  let yMin = Math.min(...all.map(([, y]) => y));
  let yMax = Math.max(...all.map(([, y]) => y));
  if (!all.length) {
    yMin = 0;
    yMax = 1;
  } else if (yMax - yMin < 1e-9) {
    yMin -= 0.5;
    yMax += 0.5;
  }
  const cells: number[][] = Array.from({ length: plotH }, () => new Array<number>(plotW).fill(-1));
  series.forEach((s, si) => {
    const sum = new Array<number>(plotW).fill(0);
    const n = new Array<number>(plotW).fill(0);
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) continue;
      const col = Math.min(plotW - 1, Math.max(0, Math.round((x / xMax) * (plotW - 1))));
      sum[col]! += y;
      n[col]! += 1;
    }
    for (let c = 0; c < plotW; c++) {
      if (n[c] === 0) continue;
      const y = sum[c]! / n[c]!;
      const row = plotH - 1 - Math.round(((y - yMin) / (yMax - yMin)) * (plotH - 1));
      cells[row]![c] = si;
    }
  });
  const rows: ChartRun[][] = cells.map((cellRow, r) => {
    const span = yMax - yMin;
    const label = r === 0 ? fmt(yMax, span) : r === plotH - 1 ? fmt(yMin, span) : r === Math.floor((plotH - 1) / 2) ? fmt((yMax + yMin) / 2, span) : ' '.repeat(LABEL - 1);
    const runs: ChartRun[] = [{ text: `${label}┤`, series: -1 }];
    for (const si of cellRow) {
      const text = si === -1 ? ' ' : series[si]!.glyph;
      const last = runs[runs.length - 1]!;
      if (last.series === si) last.text += text;
      else runs.push({ text, series: si });
    }
    return runs;
  });
  const xLabel = `step ${Math.round(xMax)}`;
  rows.push([{ text: `${' '.repeat(LABEL - 1)}└${'─'.repeat(Math.max(0, plotW - xLabel.length - 1))} ${xLabel}`, series: -1 }]);
  return { rows, yMin, yMax, xMax };
}
