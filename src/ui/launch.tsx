import { render, type Instance } from 'ink';
import type { Sample } from '../data/sample.js';
import type { ForgeConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { RunAccess } from '../review/run-access.js';
import { App, type AppOutcome, type AppStart, type Generator, type Judger, type Responder, type Trainer } from './app.js';
import { editInExternalEditor } from './review/external-editor.js';
import { ThemeProvider, type Tone } from './theme.js';

export type { AppOutcome, AppStart } from './app.js';

export interface LaunchOptions {
  /** the first screen: home, or straight into one run's review, a generation, or a training */
  start: AppStart;
  /** where runs live (output/), listed by the home screen */
  runsDir: string;
  /** How the UI lists, opens and resumes runs. Defaults to the runs on disk (the run store). */
  runs?: RunAccess;
  /** forge.yaml: defaults of the new-generation and train forms */
  config: ForgeConfig;
  /** The API key for generation, by the name of its environment variable (only the CLI reads the environment). */
  apiKeyFor: (envName: string) => string | undefined;
  /** $VISUAL or $EDITOR; without one the review's E key says to use in-place editing */
  editor?: string | undefined;
  /** false under NO_COLOR */
  color: boolean;
  /** a line the home screen shows first (the outcome of a command run between two launches) */
  notice?: { text: string; tone: Tone } | null;
  /** Runs training. Defaults to the trainer module when it can be loaded. */
  trainer?: Trainer;
  /** aborted on SIGTERM: the app closes (decisions are already saved; a generation stops where it is) */
  signal?: AbortSignal;
  /** The terminal's streams, from the CLI's context (the CLI decides whether there is a terminal). */
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

// Alternate screen: the UI gets the whole terminal and the shell's scrollback is back as it was on exit.
const ENTER_ALT = '\u001b[?1049h\u001b[H';
const LEAVE_ALT = '\u001b[?1049l';

/**
 * Draws the terminal UI until the user leaves it. Only the CLI calls this, through a dynamic import, and only when
 * stdin and stdout are terminals: nothing else in the program loads ink or React.
 */
export async function launchApp(opts: LaunchOptions): Promise<AppOutcome> {
  const { stdin, stdout } = opts;
  const generator: Generator = async (runDir, config, hooks) => {
    const { runGeneration } = await import('../generate/run-generation.js');
    return runGeneration({ runDir, config, apiKey: opts.apiKeyFor(config.generation.apiKeyEnv), apiKeyFor: opts.apiKeyFor, signal: hooks.signal, onEvent: hooks.onEvent, pause: hooks.pause });
  };
  const responder: Responder = async (runDir, config, settings, hooks) => {
    const { runRespond } = await import('../respond/run-respond.js');
    return runRespond({ runDir, config, settings, apiKey: opts.apiKeyFor(config.generation.apiKeyEnv), apiKeyFor: opts.apiKeyFor, signal: hooks.signal, onEvent: hooks.onEvent });
  };
  const judger: Judger = async (runDir, job, hooks) => {
    const { runJudgeJob } = await import('../respond/judge-job.js');
    return runJudgeJob({ runDir, config: opts.config, ...job, apiKey: opts.apiKeyFor(opts.config.generation.apiKeyEnv), apiKeyFor: opts.apiKeyFor, signal: hooks.signal, onEvent: hooks.onEvent });
  };
  const trainer = opts.trainer ?? (await loadTrainer());
  const runs = opts.runs ?? (await import('../review/run-access.js')).storeRunAccess();

  let instance: Instance | undefined;
  const editor = opts.editor;
  const openEditor = editor
    ? (text: Sample) =>
        editInExternalEditor(text, editor, {
          suspend: () => {
            stdin.setRawMode?.(false);
          },
          resume: () => {
            stdin.setRawMode?.(true);
            // Whatever the editor left on screen is wiped; the next frame is then drawn in full.
            stdout.write('\u001b[2J\u001b[H');
            instance?.clear();
          },
        })
    : undefined;

  stdout.write(ENTER_ALT);
  try {
    return await new Promise<AppOutcome>((resolve, reject) => {
      let outcome: AppOutcome | undefined;
      const finish = (o: AppOutcome) => {
        if (outcome) return;
        outcome = o;
        // Unmount outside the React update that asked for it.
        setImmediate(() => instance?.unmount());
      };
      const onAbort = () => finish({ kind: 'quit' });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      instance = render(
        <ThemeProvider theme={{ color: opts.color }}>
          <App
            start={opts.start}
            runsDir={opts.runsDir}
            runs={runs}
            config={opts.config}
            generator={generator}
            trainer={trainer}
            responder={responder}
            judger={judger}
            {...(openEditor ? { openEditor } : {})}
            notice={opts.notice ?? null}
            onExit={finish}
          />
        </ThemeProvider>,
        { stdin, stdout, exitOnCtrlC: false, patchConsole: true },
      );
      instance.waitUntilExit().then(
        () => {
          opts.signal?.removeEventListener('abort', onAbort);
          resolve(outcome ?? { kind: 'quit' });
        },
        (e: unknown) => {
          opts.signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  } finally {
    stdout.write(LEAVE_ALT);
  }
}

/** The trainer of each method, loaded (with TensorFlow.js) only when a training starts. */
async function loadTrainer(): Promise<Trainer> {
  return async (input, { resume, method }, hooks) => {
    const { trainConfigSchema } = await import('../config/train.js');
    const r = trainConfigSchema.safeParse(input);
    if (!r.success) throw new ConfigError(r.error.issues.map((i) => `train.${i.path.join('.')}: ${i.message}`));
    const opts = { resume, signal: hooks.signal, onEvent: hooks.onEvent };
    switch (method.name) {
      case 'sft':
        return (await import('../train/trainer.js')).runTraining(r.data, opts);
      case 'dpo':
        return (await import('../train/methods/dpo.js')).runDpoTraining(r.data, method.dpo ?? { beta: 0.1, loss: 'sigmoid' }, opts);
      case 'rm':
        return (await import('../train/methods/rm.js')).runRewardTraining(r.data, opts);
      case 'ppo':
        return (await import('../train/methods/ppo.js')).runPpoTraining(r.data, opts);
    }
  };
}
