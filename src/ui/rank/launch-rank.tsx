import { render } from 'ink';
import { ThemeProvider } from '../theme.js';
import type { RankFacade } from '../../review/rank-facade.js';
import { RankScreen } from './rank-screen.js';

export interface LaunchRankOptions {
  facade: RankFacade;
  runName: string;
  /** false under NO_COLOR */
  color: boolean;
  /** aborted on SIGTERM: the screen closes (every decision is already saved) */
  signal?: AbortSignal;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

// Alternate screen: the UI gets the whole terminal and the shell's scrollback is back as it was on exit.
const ENTER_ALT = '\u001b[?1049h\u001b[H';
const LEAVE_ALT = '\u001b[?1049l';

/** Draws the ranking screen until the user quits. Only the CLI calls this, on a terminal, through a dynamic import. */
export async function launchRankScreen(opts: LaunchRankOptions): Promise<void> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  stdout.write(ENTER_ALT);
  try {
    let quitting = false;
    const instance = render(
      <ThemeProvider theme={{ color: opts.color }}>
        <RankScreen
          facade={opts.facade}
          runName={opts.runName}
          onQuit={() => {
            if (quitting) return;
            quitting = true;
            // Unmount outside the React update that asked for it.
            setImmediate(() => instance.unmount());
          }}
        />
      </ThemeProvider>,
      { stdin, stdout, exitOnCtrlC: false, patchConsole: true },
    );
    const onAbort = () => instance.unmount();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await instance.waitUntilExit();
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    stdout.write(LEAVE_ALT);
  }
}
