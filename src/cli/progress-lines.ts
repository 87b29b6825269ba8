import type { TransportState } from '../events.js';

/**
 * The terminal side of a long run's progress, shared by generate and respond: on a TTY one line that updates in
 * place, otherwise a timestamped line every few seconds; other messages end the live line first.
 */
export function progressLines(mode: 'tty' | 'plain', write: (s: string) => void, plainEveryMs = 5000) {
  let lastPlain = 0;
  let lineOpen = false;
  const line = (text: string) => {
    if (lineOpen) write('\n');
    lineOpen = false;
    write(`${text}\n`);
  };
  return {
    progress(text: string): void {
      if (mode === 'tty') {
        write(`\r\x1b[2K${text}`);
        lineOpen = true;
      } else if (Date.now() - lastPlain >= plainEveryMs) {
        lastPlain = Date.now();
        write(`${new Date().toISOString()} ${text}\n`);
      }
    },
    line,
    /** The endpoint's state changes; single retries only in plain logs (a TTY shows them on its live line). */
    transport(t: TransportState): void {
      if (t.state === 'ok') line('endpoint answering again');
      else if (t.state === 'paused') line(`endpoint down: ${t.reason}; pausing all requests for ${Math.round(t.waitMs / 1000)} s (pause ${t.pause})`);
      else if (mode === 'plain' && t.state === 'backoff') write(`retry ${t.attempt} in ${(t.waitMs / 1000).toFixed(1)} s: ${t.reason}\n`);
    },
  };
}
