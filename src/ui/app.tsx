import { basename, join } from 'node:path';
import { useCallback, useEffect, useState } from 'react';
import { Box, Text, useInput } from 'ink';
import { generationConfigSchema } from '../config/generation.js';
import { forgeConfigSchema, type ForgeConfig } from '../config/schema.js';
import { langSchema, type Sample } from '../data/sample.js';
import { RunStore } from '../store/run-store.js';
import type { TrainConfigInput } from '../train/config.js';
import { Form, type FormField } from './components/form.js';
import { GenerateScreen, type GenerationHooks } from './generate/generate-screen.js';
import { HomeScreen, type HomeAction } from './home/home-screen.js';
import { listRuns, type RunInfo } from './home/run-list.js';
import { ReviewScreen } from './review/review-screen.js';
import { seedLookup } from './review/seed-lookup.js';
import { useTerminalSize } from './terminal-size.js';
import { useTone, type Tone } from './theme.js';
import { TrainScreen, type TrainingHooks } from './train/train-screen.js';

/** Runs the trainer on a config (forge.yaml's train section with the form's values over it). */
export type Trainer = (config: TrainConfigInput, opts: { resume: boolean }, hooks: TrainingHooks) => Promise<unknown>;
/** Runs generation on a run directory with a config. */
export type Generator = (runDir: string, config: ForgeConfig, hooks: GenerationHooks) => Promise<unknown>;

export type AppStart =
  | { kind: 'home' }
  | { kind: 'review'; runDir: string }
  | { kind: 'generate'; runDir: string; config: ForgeConfig }
  | { kind: 'train'; title: string; config: TrainConfigInput; resume?: boolean };

/** How the app ended: quit, or hand the terminal back so the CLI can run a plain-output command (curate). */
export type AppOutcome = { kind: 'quit' } | { kind: 'curate'; runDir: string };

export interface AppProps {
  start: AppStart;
  runsDir: string;
  config: ForgeConfig;
  generator: Generator;
  /** absent when the trainer cannot be loaded: the train key then says so */
  trainer: Trainer | undefined;
  openEditor?: (text: Sample) => Sample | null;
  notice?: { text: string; tone: Tone } | null;
  onExit: (outcome: AppOutcome) => void;
}

type Screen =
  | { kind: 'home'; runs: RunInfo[]; notice: { text: string; tone: Tone } | null }
  | { kind: 'review'; runDir: string; store: RunStore }
  | { kind: 'newRun' }
  | { kind: 'generate'; runDir: string; config: ForgeConfig }
  | { kind: 'trainForm'; run: RunInfo }
  | { kind: 'train'; title: string; config: TrainConfigInput; resume?: boolean }
  | { kind: 'failed'; message: string };

/**
 * Screen router. Started on home, leaving a screen returns there; started on one screen (alpaca-forge review --run,
 * or generate/train on a terminal), leaving it ends the app.
 */
export function App(props: AppProps) {
  const { columns } = useTerminalSize();
  const fromHome = props.start.kind === 'home';
  const home = useCallback(
    (notice: { text: string; tone: Tone } | null = null): Screen => ({ kind: 'home', runs: listRuns(props.runsDir), notice }),
    [props.runsDir],
  );
  const [screen, setScreen] = useState<Screen>(() => {
    const s = props.start;
    if (s.kind === 'home') return home(props.notice ?? null);
    if (s.kind === 'review') return openReview(s.runDir);
    return s;
  });

  // A review screen owns an open store; close it whenever the screen changes or the app ends.
  useEffect(() => {
    if (screen.kind !== 'review') return;
    const store = screen.store;
    return () => store.close();
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
    (hooks: TrainingHooks) => (screen.kind === 'train' && props.trainer ? props.trainer(screen.config, { resume: screen.resume ?? false }, hooks) : Promise.reject(new Error('the trainer is not available'))),
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
            else if (a.kind === 'curate') props.onExit({ kind: 'curate', runDir: a.run.dir });
            else if (a.kind === 'resume') setScreen({ kind: 'generate', runDir: a.run.dir, config: resumeConfig(a.run.dir, props.config) });
            else if (a.kind === 'train') {
              if (props.trainer) setScreen({ kind: 'trainForm', run: a.run });
              else setScreen(home({ text: 'training cannot start here: the trainer module is not available in this build', tone: 'bad' }));
            }
          }}
        />
      );
    case 'review':
      return (
        <ReviewScreen
          store={screen.store}
          runName={basename(screen.runDir)}
          seedInstruction={seedLookup(screen.store)}
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
            fields={newRunFields(props.config, props.runsDir)}
            validate={(v) => validateNewRun(v, props.runsDir)}
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
          validate={validateTrain}
          onCancel={() => setScreen(home())}
          onSubmit={(v) =>
            setScreen({ kind: 'train', title: `${screen.run.name} → ${v['out']}`, config: trainConfigFrom(props.config, screen.run, v), resume: v['resume'] === 'yes' })
          }
        />
      );
    case 'train':
      return <TrainScreen title={screen.title} start={startTraining} onExit={() => leave()} />;
    case 'failed':
      return <Failed message={screen.message} onDone={() => leave()} />;
  }

  function openReview(runDir: string): Screen {
    try {
      return { kind: 'review', runDir, store: RunStore.open(runDir) };
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

// ---- new generation ----
function newRunFields(config: ForgeConfig, runsDir: string): FormField[] {
  const g = config.generation;
  let n = 1;
  while (RunStore.exists(join(runsDir, `run-${n}`))) n++;
  return [
    { name: 'name', label: 'run name', value: `run-${n}`, hint: `folder under ${runsDir}` },
    { name: 'model', label: 'model', value: g.model },
    { name: 'baseUrl', label: 'base URL', value: g.baseUrl ?? '', hint: 'empty: $OPENAI_BASE_URL or api.openai.com' },
    { name: 'target', label: 'target (kept)', value: String(g.target) },
    { name: 'concurrency', label: 'concurrency', value: String(g.concurrency) },
    { name: 'lang', label: 'language', value: g.lang, choices: langSchema.options },
    { name: 'template', label: 'template', value: g.template, hint: 'json, alpaca, or a template file' },
  ];
}

function validateNewRun(v: Record<string, string>, runsDir: string): string | null {
  const name = v['name'] ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return 'run name: letters, digits, ".", "_" and "-" only';
  if (RunStore.exists(join(runsDir, name))) return `run name: ${name} exists (R on the home screen resumes it)`;
  const r = generationConfigSchema.safeParse(generationValues(v));
  if (!r.success) {
    const issue = r.error.issues[0];
    return `${issue?.path.join('.') ?? 'value'}: ${issue?.message ?? 'invalid'}`;
  }
  return null;
}

function generationValues(v: Record<string, string>): Record<string, unknown> {
  return {
    model: v['model'],
    baseUrl: v['baseUrl'] ? v['baseUrl'] : null,
    target: Number(v['target']),
    concurrency: Number(v['concurrency']),
    lang: v['lang'],
    template: v['template'],
  };
}

function newRunConfig(config: ForgeConfig, v: Record<string, string>): ForgeConfig {
  return { ...config, generation: generationConfigSchema.parse({ ...config.generation, ...generationValues(v) }) };
}

/** A resumed run continues with the settings it was started with (the snapshot the engine keeps in the run). */
function resumeConfig(runDir: string, fallback: ForgeConfig): ForgeConfig {
  try {
    const store = RunStore.open(runDir);
    try {
      const snapshot = store.getMeta('config');
      if (snapshot === undefined) return fallback;
      const r = forgeConfigSchema.safeParse(JSON.parse(snapshot));
      return r.success ? r.data : fallback;
    } finally {
      store.close();
    }
  } catch {
    return fallback;
  }
}

// ---- training ----
type TrainDefaults = Partial<TrainConfigInput>;

function trainDefaults(config: ForgeConfig): TrainDefaults {
  // forge.yaml's train section, once the config schema carries one.
  return ((config as { train?: TrainDefaults }).train ?? {}) as TrainDefaults;
}

function trainFields(config: ForgeConfig, run: RunInfo): FormField[] {
  const t = trainDefaults(config);
  return [
    { name: 'model', label: 'base model dir', value: t.model ?? '', hint: 'Hugging Face layout: config.json, *.safetensors, tokenizer' },
    { name: 'out', label: 'output dir', value: t.out ?? join(run.dir, 'lora') },
    { name: 'epochs', label: 'epochs', value: String(t.epochs ?? 3) },
    { name: 'maxSteps', label: 'max steps', value: String(t.maxSteps ?? 0), hint: '0 = all epochs' },
    // Held-out samples for eval loss; the trainer's default (2000) would swallow a small run whole.
    { name: 'valSetSize', label: 'eval samples', value: String(t.valSetSize ?? Math.min(2000, Math.floor(run.kept / 10))), hint: '0 = no evaluation' },
    { name: 'backend', label: 'backend', value: t.backend ?? 'auto', choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] },
    { name: 'resume', label: 'resume', value: 'no', choices: ['no', 'yes'], hint: 'continue from the newest checkpoint in the output dir' },
  ];
}

function validateTrain(v: Record<string, string>): string | null {
  if (!v['model']) return 'base model dir: required';
  if (!v['out']) return 'output dir: required';
  const epochs = Number(v['epochs']);
  if (!(epochs > 0)) return 'epochs: a positive number';
  const steps = Number(v['maxSteps']);
  if (!Number.isInteger(steps) || steps < 0) return 'max steps: an integer ≥ 0';
  const val = Number(v['valSetSize']);
  if (!Number.isInteger(val) || val < 0) return 'eval samples: an integer ≥ 0';
  return null;
}

function trainConfigFrom(config: ForgeConfig, run: RunInfo, v: Record<string, string>): TrainConfigInput {
  // The run replaces any data file named in forge.yaml.
  const { data: _data, ...defaults } = trainDefaults(config);
  return {
    ...defaults,
    run: run.dir,
    model: v['model']!,
    out: v['out']!,
    epochs: Number(v['epochs']),
    maxSteps: Number(v['maxSteps']),
    valSetSize: Number(v['valSetSize']),
    backend: v['backend'] as TrainConfigInput['backend'],
  };
}
