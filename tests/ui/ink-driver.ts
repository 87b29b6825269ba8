import { setTimeout as delay } from 'node:timers/promises';
import type { render } from 'ink-testing-library';

type Rendered = ReturnType<typeof render>;

/** Named keys as a terminal sends them. */
export const KEY = {
  up: '\u001b[A',
  down: '\u001b[B',
  right: '\u001b[C',
  left: '\u001b[D',
  enter: '\r',
  escape: '\u001b',
  tab: '\t',
  shiftTab: '\u001b[Z',
  backspace: '\u007f',
  ctrlS: '\u0013',
  ctrlC: '\u0003',
} as const;

/** A short pause for effects (listeners, the engine's first events) to run. */
export async function settle(ms = 15): Promise<void> {
  await delay(ms);
}

/**
 * Waits for the frame a key press causes: ink draws each render as one write, so the frame count grows. A fixed
 * sleep is not enough on a loaded CI machine. Keys that change nothing time out quietly.
 */
async function nextFrame(r: Rendered, before: number, timeoutMs = 400): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (r.frames.length <= before && Date.now() < until) await delay(2);
  // One change can draw more than once (a resize: ink's own redraw, then the screen's new layout); wait for quiet.
  let seen = r.frames.length;
  for (;;) {
    await delay(8);
    if (r.frames.length === seen) break;
    seen = r.frames.length;
  }
}

/** Sends each key as its own read, as a person typing does, letting the UI draw in between. */
export async function press(r: Rendered, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    const before = r.frames.length;
    r.stdin.write(k);
    await nextFrame(r, before);
  }
}

/** Types text one character at a time. */
export async function type(r: Rendered, text: string): Promise<void> {
  await press(r, ...[...text]);
}

/** Resizes the fake terminal (ink-testing-library's stdout is fixed at 100 columns otherwise). */
export async function resize(r: Rendered, columns: number, rows: number): Promise<void> {
  Object.defineProperty(r.stdout, 'columns', { value: columns, configurable: true });
  Object.defineProperty(r.stdout, 'rows', { value: rows, configurable: true });
  const before = r.frames.length;
  r.stdout.emit('resize');
  await nextFrame(r, before);
}

export function frame(r: Rendered): string {
  return r.lastFrame() ?? '';
}

/**
 * Waits until the frame matches (effects and engine events draw asynchronously; a loaded CI machine is slow),
 * then returns it. On timeout it returns the last frame, so the caller's assertion shows what was there.
 */
export async function until(r: Rendered, pattern: RegExp, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(frame(r)) && Date.now() < deadline) await delay(5);
  return frame(r);
}

/** Waits until the screen has drawn its first frame and its effects have settled. */
export async function mount(r: Rendered, timeoutMs = 3000): Promise<void> {
  await nextFrame(r, 0, timeoutMs);
}
