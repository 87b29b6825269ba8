/**
 * Small self-contained SVG charts for the Markdown report: no scripts, no external fonts, readable in a browser,
 * on GitHub and in an image viewer. Text is XML-escaped; CJK labels rely on the viewer's system fonts.
 */
const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Sans CJK SC', 'PingFang SC', sans-serif"`;
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Round axis maximum and tick step for counts. */
function axis(max: number): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  return { top: Math.ceil(max / step) * step, step: Math.max(1, step) };
}

export interface HistogramChart {
  title: string;
  xLabel: string;
  bins: Array<{ from: number; to: number; count: number }>;
  /** The last bin also holds everything larger ("40+"). */
  openEnded?: boolean;
}

export function histogramSvg(h: HistogramChart): string {
  const W = 640;
  const H = 300;
  const left = 56;
  const right = 16;
  const top = 36;
  const bottom = 52;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = Math.max(0, ...h.bins.map((b) => b.count));
  const { top: yTop, step } = axis(max);
  const bw = h.bins.length ? plotW / h.bins.length : plotW;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(h.title)}</text>`,
  ];
  for (let y = 0; y <= yTop; y += step) {
    const py = top + plotH - (y / yTop) * plotH;
    out.push(`<line x1="${left}" x2="${W - right}" y1="${py.toFixed(1)}" y2="${py.toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${(py + 4).toFixed(1)}" text-anchor="end" fill="#555">${y}</text>`);
  }
  const labelEvery = Math.max(1, Math.ceil(h.bins.length / 10));
  h.bins.forEach((b, i) => {
    const x = left + i * bw;
    const bh = (b.count / yTop) * plotH;
    out.push(
      `<rect x="${(x + 1).toFixed(1)}" y="${(top + plotH - bh).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${bh.toFixed(1)}" fill="${PALETTE[0]}"><title>${b.from}–${b.to - 1}: ${b.count}</title></rect>`,
    );
    if (i % labelEvery === 0) {
      const label = h.openEnded && i === h.bins.length - 1 ? `${b.from}+` : String(b.from);
      out.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${label}</text>`);
    }
  });
  out.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#888"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${H - 12}" text-anchor="middle" fill="#333">${escapeXml(h.xLabel)}</text>`);
  out.push(`<text x="14" y="${top + plotH / 2}" text-anchor="middle" fill="#333" transform="rotate(-90 14 ${top + plotH / 2})">samples</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface StackedBarChart {
  title: string;
  /** One row per label (a verb); segments are its parts (its objects); `rest` is the part no segment names. */
  rows: Array<{ label: string; total: number; segments: Array<{ label: string; value: number }> }>;
}

/** Horizontal bars, one per verb, split into its most common objects; the grey remainder is every other object. */
export function stackedBarsSvg(c: StackedBarChart): string {
  const W = 720;
  const rowH = 24;
  const left = 110;
  const right = 60;
  const top = 40;
  const H = top + c.rows.length * rowH + 20;
  const plotW = W - left - right;
  const max = Math.max(1, ...c.rows.map((r) => r.total));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(c.title)}</text>`,
  ];
  c.rows.forEach((r, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12" fill="#222">${escapeXml(r.label)}</text>`);
    let x = left;
    r.segments.forEach((s, k) => {
      const w = (s.value / max) * plotW;
      out.push(`<rect x="${x.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeXml(`${r.label} ${s.label}: ${s.value}`)}</title></rect>`);
      // Label inside when it fits (about 6.5 px per Latin character, 12 per CJK character).
      const need = [...s.label].reduce((a, ch) => a + (ch.charCodeAt(0) > 0x2e80 ? 12 : 6.5), 8);
      if (w >= need) out.push(`<text x="${(x + 4).toFixed(1)}" y="${y + 15}" fill="#fff">${escapeXml(s.label)}</text>`);
      x += w;
    });
    const restW = ((r.total - r.segments.reduce((a, s) => a + s.value, 0)) / max) * plotW;
    if (restW > 0) out.push(`<rect x="${x.toFixed(1)}" y="${y + 3}" width="${restW.toFixed(1)}" height="${rowH - 6}" fill="#d0d0d0"><title>${escapeXml(`${r.label}: other objects or none`)}</title></rect>`);
    out.push(`<text x="${(x + restW + 4).toFixed(1)}" y="${y + 15}" fill="#555">${r.total}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
