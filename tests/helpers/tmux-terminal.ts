import { spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A real pseudo-terminal for end-to-end tests of the terminal UI: tmux runs the command, send-keys types,
 * capture-pane reads the screen. (The same approach as tests/e2e/review-tui.test.ts.)
 */
export const tmuxMissing = spawnSync('tmux', ['-V']).error !== undefined;

export class TmuxTerminal {
  private readonly socket = `forge-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(command: string, env: Record<string, string>, columns = 120, rows = 32) {
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`);
    // env -i: the UI must not see the test runner's CI variables (it refuses to draw under CI).
    this.tmux(['-f', '/dev/null', 'new-session', '-d', '-s', 'e2e', '-x', String(columns), '-y', String(rows), `env -i ${envArgs.join(' ')} ${command}`]);
    this.tmux(['set-option', '-t', 'e2e', 'remain-on-exit', 'on']);
  }
  tmux(args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
    return r.stdout;
  }
  /** The pane's text; with `escapes`, its colour and attribute escape sequences too. */
  screen(escapes = false): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-', ...(escapes ? ['-e'] : []), '-t', 'e2e']);
  }
  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'e2e', ...keys]);
  }
  /** Types text literally (no key names). */
  type(text: string): void {
    this.tmux(['send-keys', '-t', 'e2e', '-l', text]);
  }
  async waitFor(pattern: RegExp, what: string, timeoutMs = 15000): Promise<string> {
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      last = this.screen();
      if (pattern.test(last)) return last;
      await delay(40);
    }
    throw new Error(`timed out waiting for ${what} (${pattern}); the screen was:\n${last}`);
  }
  close(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function terminalEnv(): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', TERM: 'screen-256color', LANG: 'C.UTF-8' };
}
