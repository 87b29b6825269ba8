import { basename, dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { formatDuration } from '../format.js';
import { isStdoutPath, writeOutput } from '../io/write-output.js';
import type { RunSummary } from '../store/run-store.js';
import type { ResponseCounts } from '../store/responses.js';
import type { DatasetReport, LengthStats } from './report.js';
import { histogramSvg, stackedBarsSvg } from './svg-chart.js';
import { dedupLines } from './dedup-report.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const num = (x: number) => x.toLocaleString('en-US');

function sortedCounts(r: Record<string, number>): Array<[string, number]> {
  return Object.entries(r).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** The run's own figures (stats --run): counts, requests, tokens, cost, time; `respond`'s responses and their cost. */
export function runSummaryLines(s: RunSummary, responses?: ResponseCounts): string[] {
  const lines = [
    `items: ${sortedCounts(s.byStatus).map(([k, v]) => `${k} ${num(v)}`).join(', ') || 'none'}${s.target !== null ? ` (target ${num(s.target)} kept)` : ''}`,
  ];
  const reasons = sortedCounts(s.byReason);
  if (reasons.length) lines.push(`reasons: ${reasons.map(([k, v]) => `${k} ${num(v)}`).join(', ')}`);
  const reviews = sortedCounts(s.byReview);
  if (reviews.length) lines.push(`review: ${reviews.map(([k, v]) => `${k} ${num(v)}`).join(', ')}`);
  const r = s.requests;
  lines.push(`requests: ${num(r.total)} (ok ${num(r.ok)}, failed ${num(r.failed)}, in flight ${num(r.inFlight)}, abandoned ${num(r.abandoned)})${s.judgeRequests ? `, judge ${num(s.judgeRequests)}` : ''}${s.embedRequests ? `, embeddings ${num(s.embedRequests)}` : ''}`);
  lines.push(`tokens: ${num(s.promptTokens)} prompt + ${num(s.completionTokens)} completion; cost $${s.costUsd.toFixed(4)}`);
  const rs = responses;
  if (rs && (rs.ok || rs.costUsd)) {
    lines.push(`responses: ${num(rs.ok)} answered, ${num(rs.promptTokens)} prompt + ${num(rs.completionTokens)} completion tokens; cost $${rs.costUsd.toFixed(4)} (run total $${(s.costUsd + rs.costUsd).toFixed(4)})`);
  }
  lines.push(`elapsed: ${formatDuration(s.elapsedMs / 1000)}${s.startedAt ? ` (started ${s.startedAt})` : ''}; language ${s.lang}`);
  return lines;
}

function lengthLine(name: string, l: LengthStats): string {
  if (!l.bins.length) return `${name}: none`;
  return `${name} (${l.unit}): mean ${l.mean.toFixed(1)}, median ${l.median}, p90 ${l.p90}, max ${l.max}`;
}

/** Plain-text report for the terminal. */
export function reportLines(r: DatasetReport): string[] {
  const lines: string[] = [];
  if (r.curation) {
    lines.push(`curation: ${num(r.curation.total)} items; ${sortedCounts(r.curation.byStatus).map(([k, v]) => `${k} ${num(v)}`).join(', ')}`);
    const reasons = sortedCounts(r.curation.byReason);
    if (reasons.length) lines.push(`reasons: ${reasons.map(([k, v]) => `${k} ${num(v)}`).join(', ')}`);
  }
  if (r.dedup?.length) lines.push('duplicates by method:', ...dedupLines(r.dedup));
  if (r.contamination?.length) {
    lines.push('contamination:');
    for (const c of r.contamination) lines.push(`  ${c.file}: ${num(c.itemsHit)} of ${num(c.items)} items hit, ${num(c.samplesRemoved)} samples removed${c.tooShort ? ` (${num(c.tooShort)} items too short to match)` : ''}`);
  }
  lines.push(`samples: ${num(r.samples)}; with input ${num(r.withInput.count)} (${pct(r.withInput.share)})`);
  lines.push(lengthLine('instruction length', r.lengths.instruction));
  lines.push(lengthLine('input length (items with input)', r.lengths.input));
  lines.push(lengthLine('output length', r.lengths.output));
  const v = r.verbs;
  lines.push(`verbs: ${num(v.withVerb)} of ${num(v.analysed)} instructions analysed have a task verb, ${num(v.withObject)} a direct object`);
  for (const t of v.top.slice(0, 10)) lines.push(`  ${t.verb.padEnd(12)} ${String(t.count).padStart(6)}  ${t.objects.map((o) => `${o.noun} ${o.count}`).join(', ')}`);
  return lines;
}

/**
 * Writes the Markdown report and its SVG charts beside it (REPORT-instruction-length.svg, …), each atomically.
 * Returns every path written.
 */
export function writeMarkdownReport(mdPath: string, r: DatasetReport, opts: { title: string; run?: RunSummary; responses?: ResponseCounts; source?: string; sections?: string[] }): string[] {
  if (isStdoutPath(mdPath)) throw new UsageError(`--report ${mdPath}: a report cannot go to stdout, its SVG charts are written beside it`, 'pass a file path, e.g. --report report.md');
  const dir = dirname(mdPath);
  const stem = basename(mdPath).replace(/\.(md|markdown)$/i, '');
  const written: string[] = [];
  const write = (path: string, text: string) => {
    writeOutput(path, text, { label: '--report' });
    written.push(path);
  };
  const chart = (name: string, svg: string) => {
    const file = `${stem}-${name}.svg`;
    write(join(dir, file), svg);
    return file;
  };

  const md: string[] = [`# ${opts.title}`, ''];
  if (opts.source) md.push(`Source: \`${opts.source}\``, '');
  if (opts.run) {
    md.push('## Run', '');
    for (const l of runSummaryLines(opts.run, opts.responses)) md.push(`- ${l}`);
    md.push('');
  }
  // A run's own sections (the evol rounds' growth), after its figures.
  if (opts.sections?.length) md.push(...opts.sections);
  if (r.curation) {
    md.push('## Curation', '', `${num(r.curation.total)} items.`, '', '| status | items | share |', '|---|---:|---:|');
    for (const [k, v] of sortedCounts(r.curation.byStatus)) md.push(`| ${k} | ${num(v)} | ${pct(v / Math.max(1, r.curation.total))} |`);
    const reasons = sortedCounts(r.curation.byReason);
    if (reasons.length) {
      md.push('', '| reason | items |', '|---|---:|');
      for (const [k, v] of reasons) md.push(`| ${k} | ${num(v)} |`);
    }
    md.push('');
  }
  if (r.dedup?.length) {
    md.push('## Duplicates by method', '', '| method | removed |', '|---|---:|');
    for (const m of r.dedup) md.push(`| ${m.method} | ${num(m.removed)} |`);
    md.push('');
    for (const m of r.dedup) {
      const file = chart(`dedup-${m.method}`, histogramSvg({ title: `${m.method}: similarity of removed items to the item kept`, xLabel: 'similarity', bins: m.bins }));
      md.push(`![${m.method} similarity](${file})`, '');
    }
  }
  if (r.contamination?.length) {
    md.push('## Contamination', '', '| benchmark | items | items hit | samples removed | too short to match |', '|---|---:|---:|---:|---:|');
    for (const c of r.contamination) md.push(`| ${c.file} | ${num(c.items)} | ${num(c.itemsHit)} | ${num(c.samplesRemoved)} | ${num(c.tooShort)} |`);
    md.push('');
  }
  md.push(
    '## Samples',
    '',
    `${num(r.samples)} samples; ${num(r.withInput.count)} (${pct(r.withInput.share)}) have an input.`,
    '',
    `| field | unit | mean | median | p90 | max |`,
    '|---|---|---:|---:|---:|---:|',
  );
  for (const [name, l] of Object.entries(r.lengths)) {
    md.push(`| ${name}${name === 'input' ? ' (when present)' : ''} | ${l.unit} | ${l.mean.toFixed(1)} | ${l.median} | ${l.p90} | ${l.max} |`);
  }
  md.push('');
  for (const [name, l] of Object.entries(r.lengths)) {
    if (!l.bins.length) continue;
    const file = chart(`${name}-length`, histogramSvg({ title: `${name} length${name === 'input' ? ' (items with input)' : ''}`, xLabel: l.unit, bins: l.bins, openEnded: true }));
    md.push(`![${name} length](${file})`, '');
  }
  const v = r.verbs;
  md.push(
    '## Root verbs and their direct objects',
    '',
    `${num(v.analysed)} instructions analysed${v.analysed < r.samples ? ` (an evenly spaced sample of ${num(r.samples)})` : ''}: ${num(v.withVerb)} (${pct(v.withVerb / Math.max(1, v.analysed))}) start with a task verb, ${num(v.withObject)} (${pct(v.withObject / Math.max(1, v.analysed))}) with a direct object.`,
    '',
    `Method: ${v.method}.`,
    '',
  );
  if (v.top.length) {
    const file = chart(
      'verbs',
      stackedBarsSvg({
        title: `top ${v.top.length} root verbs, split by their most common direct objects`,
        rows: v.top.map((t) => ({ label: t.verb, total: t.count, segments: t.objects.map((o) => ({ label: o.noun, value: o.count })) })),
      }),
    );
    md.push(`![root verbs and objects](${file})`, '', '| verb | instructions | most common objects |', '|---|---:|---|');
    for (const t of v.top) md.push(`| ${t.verb} | ${num(t.count)} | ${t.objects.map((o) => `${o.noun} (${o.count})`).join(', ')} |`);
    md.push('');
  }
  write(mdPath, `${md.join('\n')}\n`);
  return written;
}
