import type { GenerateEvent } from '../events.js';
import { formatDuration } from '../format.js';
import { progressLines } from './progress-lines.js';

/**
 * Turns generation events into terminal output: one updating line on a TTY, a plain line every few seconds
 * otherwise, or one JSON object per line with --json.
 */
export function generationPrinter(mode: 'tty' | 'plain' | 'json', write: (s: string) => void, plainEveryMs = 5000): (e: GenerateEvent) => void {
  if (mode === 'json') return (e) => write(`${JSON.stringify(e)}\n`);
  const out = progressLines(mode, write, plainEveryMs);
  return (e) => {
    switch (e.type) {
      case 'start':
        out.line(
          `${e.resumed ? 'resuming' : 'starting'} ${e.runDir}: ${e.kept}/${e.target} kept · model ${e.model} at ${e.baseUrl} · template ${e.template} · ${e.lang} · concurrency ${e.concurrency}` +
            `${e.abandonedRequests ? ` · ${e.abandonedRequests} request(s) left in flight by the last run were abandoned` : ''}`,
        );
        return;
      case 'progress':
        out.progress(formatProgress(e));
        return;
      case 'transport':
        out.transport(e.transport);
        return;
      case 'warning':
        out.line(`warning: ${e.message}`);
        return;
      case 'batch':
      case 'done':
        out.line(e.message);
        return;
      case 'samples':
        return;
    }
  };
}

function formatProgress(e: Extract<GenerateEvent, { type: 'progress' }>): string {
  const pool = e.endpoints ? ` · ${e.endpoints.map((x) => `${x.endpoint}: ${x.ok} ok${x.failed ? `/${x.failed} failed` : ''}${x.state === 'up' ? '' : ` ${x.state}`}`).join(', ')}` : '';
  return formatRunProgress(e) + pool;
}

function formatRunProgress(e: Extract<GenerateEvent, { type: 'progress' }>): string {
  const pct = e.target > 0 ? ((100 * e.kept) / e.target).toFixed(1) : '0';
  const rej = Object.values(e.rejections).reduce((a, b) => a + b, 0);
  const cost = `$${e.costUsd.toFixed(e.costUsd < 1 ? 4 : 2)}${e.budgetUsd !== null ? `/$${e.budgetUsd}` : ''}`;
  return (
    `${e.kept}/${e.target} kept (${pct}%) · ${rej} rejected · ${e.requestsDone} req (${e.requestsPerSec.toFixed(1)}/s, ${e.inFlight} in flight${e.requestsFailed ? `, ${e.requestsFailed} failed` : ''})` +
    ` · ${formatCount(e.promptTokens + e.completionTokens)} tok (${formatCount(e.tokensPerSec)}/s) · ${cost} · ETA ${formatDuration(e.etaSec, '?')}`
  );
}

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}
