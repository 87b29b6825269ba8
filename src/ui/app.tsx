import { basename, join } from 'node:path';
import { useCallback, useEffect, useState } from 'react';
import { Box, useInput } from 'ink';
import { Text } from './components/text.js';
import type { ForgeConfig } from '../config/schema.js';
import type { Sample } from '../data/sample.js';
import type { ReviewRun, RunAccess, RunInfo } from '../review/run-access.js';
import type { TrainConfigInput } from '../config/train.js';
import { Form } from './components/form.js';
import { GenerateScreen, type GenerationHooks } from './generate/generate-screen.js';
import { HomeScreen, type HomeAction } from './home/home-screen.js';
import { ReviewScreen } from './review/review-screen.js';
import {
  curateArgsFrom,
  curateFields,
  judgeFields,
  judgeJobFrom,
  newRunConfig,
  newRunFields,
  respondFields,
  respondSettingsFrom,
  trainConfigFrom,
  trainFields,
  trainMethodFrom,
  validateCurate,
  validateJudge,
  validateNewRun,
  validateTrain,
  type TrainMethodChoice,
} from './settings-forms.js';
import type { JudgeConfig } from '../config/curation.js';
import type { RespondSettings } from '../respond/run-respond.js';
import { JudgeScreen, type JudgeHooks } from './judge/judge-screen.js';
import { RespondScreen, type RespondHooks } from './respond/respond-screen.js';
import { useTerminalSize } from './terminal-size.js';
import { useTone, type Tone } from './theme.js';
import { TrainScreen, type TrainingHooks } from './train/train-screen.js';

/** Runs the trainer on a config (forge.yaml's train section with the form's values over it), by the method chosen. */
export type Trainer = (config: TrainConfigInput, opts: { resume: boolean; method: TrainMethodChoice }, hooks: TrainingHooks) => Promise<unknown>;
/** Runs generation on a run directory with a config. */
export type Generator = (runDir: string, config: ForgeConfig, hooks: GenerationHooks) => Promise<unknown>;
/** Asks for K candidate responses per sample of a run (respond), with the run's generation settings. */
export type Responder = (runDir: string, config: ForgeConfig, settings: RespondSettings, hooks: RespondHooks) => Promise<unknown>;
/** Runs the LLM judge over a run: scores its samples (judge) or rates and orders its candidate responses (rank). */
export type Judger = (runDir: string, job: { mode: 'judge' | 'rank'; judge: JudgeConfig }, hooks: JudgeHooks) => Promise<unknown>;

export type AppStart =
  | { kind: 'home' }
  | { kind: 'review'; runDir: string }
  | { kind: 'generate'; runDir: string; config: ForgeConfig }
  | { kind: 'train'; title: string; config: TrainConfigInput; resume?: boolean; method?: TrainMethodChoice };

/**
 * How the app ended: quit, or hand the terminal back so the CLI can run a plain-output command: curate on runDir,
 * with the curate form's values as its flags.
 */
export type AppOutcome = { kind: 'quit' } | { kind: 'curate'; runDir: string; args: string[] };

export interface AppProps {
  start: AppStart;
  runsDir: string;
  /** how the app lists, opens and resumes runs (it never opens the run store itself) */
  runs: RunAccess;
  config: ForgeConfig;
  generator: Generator;
  /** absent when the trainer cannot be loaded: the train key then says so */
  trainer: Trainer | undefined;
  /** respond and the judge as jobs; absent: their keys say they are not available here */
  responder?: Responder;
  judger?: Judger;
  openEditor?: (text: Sample) => Sample | null;
  notice?: { text: string; tone: Tone } | null;
  onExit: (outcome: AppOutcome) => void;
}

type Screen =
  | { kind: 'home'; runs: RunInfo[]; notice: { text: string; tone: Tone } | null }
  | { kind: 'review'; runDir: string; run: ReviewRun }
  | { kind: 'newRun' }
  | { kind: 'generate'; runDir: string; config: ForgeConfig }
  | { kind: 'trainForm'; run: RunInfo }
  | { kind: 'train'; title: string; config: TrainConfigInput; resume?: boolean; method?: TrainMethodChoice }
  | { kind: 'respondForm'; run: RunInfo; config: ForgeConfig }
  | { kind: 'respond'; runDir: string; config: ForgeConfig; settings: RespondSettings }
  | { kind: 'judgeForm'; run: RunInfo }
  | { kind: 'curateForm'; run: RunInfo }
  | { kind: 'judge'; runDir: string; job: { mode: 'judge' | 'rank'; judge: JudgeConfig } }
  | { kind: 'failed'; message: string };

/**
 * Screen router. Started on home, leaving a screen returns there; started on one screen (alpaca-forge review --run,
 * or generate/train on a terminal), leaving it ends the app.
 */
export function App(props: AppProps) {
  const { columns } = useTerminalSize();
  const fromHome = props.start.kind === 'home';
  const home = useCallback(
    (notice: { text: string; tone: Tone } | null = null): Screen => ({ kind: 'home', runs: props.runs.list(props.runsDir), notice }),
    [props.runs, props.runsDir],
  );
  const [screen, setScreen] = useState<Screen>(() => {
    const s = props.start;
    if (s.kind === 'home') return home(props.notice ?? null);
    if (s.kind === 'review') return openReview(s.runDir);
    return s;
  });

  // A review screen owns an open run; close it whenever the screen changes or the app ends.
  useEffect(() => {
    if (screen.kind !== 'review') return;
    const run = screen.run;
    return () => run.close();
  }, [screen]);

  const leave = useCallback(
    (notice: { text: string; tone: Tone } | null = null) => {
      if (fromHome) setScreen(home(notice));
      else props.onExit({ kind: 'quit' });
    },
    [fromHome, home, props],
  );

  const startGeneration = useCallback(
    (hooks: GenerationHooks) => (screen.kind === 'generate' ? props.generator(screen.runDir, screen.config, hooks) : Promise.resolve()),
    // The screen object changes only when the screen does, so the engine starts once per generate screen.
    [screen],
  );
  const startTraining = useCallback(
    (hooks: TrainingHooks) => (screen.kind === 'train' && props.trainer ? props.trainer(screen.config, { resume: screen.resume ?? false, method: screen.method ?? { name: 'sft' } }, hooks) : Promise.reject(new Error('the trainer is not available'))),
    [screen],
  );
  const startRespond = useCallback(
    (hooks: RespondHooks) => (screen.kind === 'respond' && props.responder ? props.responder(screen.runDir, screen.config, screen.settings, hooks) : Promise.reject(new Error('respond is not available'))),
    [screen],
  );
  const startJudge = useCallback(
    (hooks: JudgeHooks) => (screen.kind === 'judge' && props.judger ? props.judger(screen.runDir, screen.job, hooks) : Promise.reject(new Error('the judge is not available'))),
    [screen],
  );

  switch (screen.kind) {
    case 'home':
      return (
        <HomeScreen
          key={screen.runs.map((r) => r.dir + r.items).join()}
          runsDir={props.runsDir}
          runs={screen.runs}
          notice={screen.notice}
          onAction={(a: HomeAction) => {
            if (a.kind === 'quit') props.onExit({ kind: 'quit' });
            else if (a.kind === 'refresh') setScreen(home());
            else if (a.kind === 'new') setScreen({ kind: 'newRun' });
            else if (a.kind === 'review') setScreen(openReview(a.run.dir));
            else if (a.kind === 'curate') setScreen({ kind: 'curateForm', run: a.run });
            else if (a.kind === 'resume') setScreen({ kind: 'generate', runDir: a.run.dir, config: props.runs.resumeConfig(a.run.dir, props.config) });
            else if (a.kind === 'respond') {
              // The run's own model and endpoints answer by default (its config snapshot), as a resumed generation uses.
              if (props.responder) setScreen({ kind: 'respondForm', run: a.run, config: { ...props.config, generation: props.runs.resumeConfig(a.run.dir, props.config).generation } });
              else setScreen(home({ text: 'respond cannot start here: run alpaca-forge respond --run DIR --responses K', tone: 'bad' }));
            } else if (a.kind === 'judge') {
              if (props.judger) setScreen({ kind: 'judgeForm', run: a.run });
              else setScreen(home({ text: 'the judge cannot start here: run alpaca-forge curate --run DIR --judge (or --rank)', tone: 'bad' }));
            } else if (a.kind === 'train') {
              if (props.trainer) setScreen({ kind: 'trainForm', run: a.run });
              else setScreen(home({ text: 'training cannot start here: the trainer module is not available in this build', tone: 'bad' }));
            }
          }}
        />
      );
    case 'review':
      return (
        <ReviewScreen
          store={screen.run}
          runName={basename(screen.runDir)}
          seedInstruction={screen.run.seedInstruction}
          provenance={screen.run.provenance}
          {...(props.openEditor ? { openEditor: props.openEditor } : {})}
          onQuit={() => leave()}
        />
      );
    case 'newRun':
      return (
        <Box flexDirection="column">
          <Form
            title="new generation"
            width={columns}
            fields={newRunFields(props.config, props.runsDir, props.runs.exists)}
            validate={(v) => validateNewRun(props.config, v, props.runsDir, props.runs.exists)}
            onCancel={() => setScreen(home())}
            onSubmit={(v) => setScreen({ kind: 'generate', runDir: join(props.runsDir, v['name']!), config: newRunConfig(props.config, v) })}
          />
        </Box>
      );
    case 'generate':
      return <GenerateScreen runDir={screen.runDir} start={startGeneration} onExit={() => leave()} />;
    case 'trainForm':
      return (
        <Form
          title={`train on ${screen.run.name}`}
          width={columns}
          fields={trainFields(props.config, screen.run)}
          validate={(v) => validateTrain(props.config, screen.run, v)}
          onCancel={() => setScreen(home())}
          onSubmit={(v) =>
            setScreen({ kind: 'train', title: `${screen.run.name} → ${v['out']}`, config: trainConfigFrom(props.config, screen.run, v), resume: v['resume'] === 'yes', method: trainMethodFrom(v) })
          }
        />
      );
    case 'train':
      return <TrainScreen title={screen.title} start={startTraining} onExit={() => leave()} />;
    case 'respondForm': {
      const { run, config } = screen;
      return (
        <Form
          title={`respond on ${run.name}: candidate answers to rank`}
          width={columns}
          fields={respondFields(config)}
          validate={(v) => {
            const r = respondSettingsFrom(config, v);
            return 'error' in r ? r.error : null;
          }}
          onCancel={() => setScreen(home())}
          onSubmit={(v) => {
            const r = respondSettingsFrom(config, v);
            if ('settings' in r) setScreen({ kind: 'respond', runDir: run.dir, config, settings: r.settings });
          }}
        />
      );
    }
    case 'respond':
      return <RespondScreen runDir={screen.runDir} start={startRespond} onExit={() => leave()} />;
    case 'judgeForm': {
      const run = screen.run;
      return (
        <Form
          title={`judge ${run.name}`}
          width={columns}
          fields={judgeFields(props.config)}
          validate={(v) => validateJudge(props.config, v)}
          onCancel={() => setScreen(home())}
          onSubmit={(v) => setScreen({ kind: 'judge', runDir: run.dir, job: judgeJobFrom(props.config, v) })}
        />
      );
    }
    case 'curateForm': {
      const run = screen.run;
      return (
        <Form
          title={`curate ${run.name}: dedup and decontamination`}
          width={columns}
          fields={curateFields(props.config)}
          validate={(v) => validateCurate(props.config, v)}
          onCancel={() => setScreen(home())}
          onSubmit={(v) => props.onExit({ kind: 'curate', runDir: run.dir, args: curateArgsFrom(v) })}
        />
      );
    }
    case 'judge':
      return <JudgeScreen runDir={screen.runDir} mode={screen.job.mode} start={startJudge} onExit={() => leave()} />;
    case 'failed':
      return <Failed message={screen.message} onDone={() => leave()} />;
  }

  function openReview(runDir: string): Screen {
    try {
      return { kind: 'review', runDir, run: props.runs.openReview(runDir) };
    } catch (e) {
      return { kind: 'failed', message: (e as Error).message };
    }
  }
}

function Failed({ message, onDone }: { message: string; onDone: () => void }) {
  const tone = useTone();
  useInput(() => onDone());
  return (
    <Box flexDirection="column">
      <Text color={tone('bad')}>{message}</Text>
      <Text color={tone('muted')}>press any key</Text>
    </Box>
  );
}
