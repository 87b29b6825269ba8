/**
 * How a command prints, decided once in main from the streams, the environment and --json, and handed to every
 * command in its context (no command looks at process.stdout.isTTY or NO_COLOR itself).
 */
export interface OutputMode {
  /** 'json': --json (one JSON object per line); 'tty': stdout is a terminal and CI is unset (live progress lines);
   * 'plain': anything else (log lines). */
  format: 'tty' | 'plain' | 'json';
  /** stdin and stdout are terminals, CI is unset and --json is not given: the full-screen UI may open. */
  screen: boolean;
  /** False when NO_COLOR is set to anything but the empty string (https://no-color.org). */
  color: boolean;
  /** Width of the terminal progress lines are drawn on (stderr), 120 when it is not a terminal. */
  columns: number;
}

export interface OutputStreams {
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  /** stderr's width when it is a terminal */
  stderrColumns: number | undefined;
}

export function decideOutputMode(streams: OutputStreams, env: NodeJS.ProcessEnv, json: boolean): OutputMode {
  const ci = Boolean(env['CI']);
  const terminal = streams.stdoutIsTTY && !ci;
  return {
    format: json ? 'json' : terminal ? 'tty' : 'plain',
    screen: terminal && streams.stdinIsTTY && !json,
    color: env['NO_COLOR'] === undefined || env['NO_COLOR'] === '',
    columns: streams.stderrColumns && streams.stderrColumns > 0 ? streams.stderrColumns : 120,
  };
}
