import { Box } from 'ink';
import { Text } from '../components/text.js';
import type { TrainEvent } from '../../events.js';
import { JobFrame, jobStatus, useJob, type JobHooks } from '../components/job-shell.js';
import { formatDuration, formatInt, formatRate, progressBar } from '../format.js';
import { hintLine } from '../keys.js';
import { useTone, type Tone } from '../theme.js';
import { lineChart } from './line-chart.js';
import { methodView, otherFigures } from './method-view.js';
import { initialTrainState, reduceTrain, type TrainState } from './train-state.js';

export type TrainingHooks = Omit<JobHooks<TrainEvent>, 'pause'>;

export interface TrainScreenProps {
  /** what is trained, for the header (run or data file → output directory) */
  title: string;
  /** Starts training; resolves when it has stopped (finished, or stopped by the key with a checkpoint saved). */
  start: (hooks: TrainingHooks) => Promise<unknown>;
  onExit: () => void;
}

const seriesTone: Tone[] = ['accent', 'warn'];

export function TrainScreen({ title, start, onExit }: TrainScreenProps) {
  const { state, flags, help } = useJob({ scope: 'train', initial: initialTrainState, reduce: reduceTrain, start, onExit });
  const d = state.done;
  const status = jobStatus(flags, {
    done: d
      ? { text: `${d.interrupted ? 'stopped' : 'finished'} at step ${d.step}/${d.totalSteps} in ${formatDuration(d.seconds)} · adapter in ${d.adapterDir}`, tone: d.interrupted ? 'warn' : 'good' }
      : null,
    stopping: 'stopping: saving a checkpoint…',
    idle: state.phase ? { text: `${state.phase}…`, tone: 'info' } : { text: hintLine('train', ['stop', 'help']), tone: 'muted' },
  });
  const st = state.start;
  return (
    <JobFrame scope="train" help={help} title={`${title}${st ? `${st.method && st.method !== 'sft' ? ` · ${st.method.toUpperCase()}` : ''} · backend ${st.backend} · ${st.device}` : ''}`} status={status} minHeight={12}>
      {(size) => <TrainProgress state={state} {...size} />}
    </JobFrame>
  );
}

/** Everything between the title and the status line: the plan, progress, the method's figures and its curve. */
function TrainProgress({ state, columns, height }: { state: TrainState; columns: number; height: number }) {
  const tone = useTone();
  const st = state.start;
  const last = state.last;
  const plan = st?.plan;
  const total = last?.total ?? plan?.totalSteps ?? 0;
  const step = last?.step ?? plan?.resumedFromStep ?? 0;
  const counts = `step ${formatInt(step)}/${formatInt(total)}`;
  const view = methodView(state.method);
  const curve = state.steps[view.curve] ?? [];
  const evalCurve = state.evals[view.curve] ?? [];
  const lastEval = evalCurve[evalCurve.length - 1];
  const current = curve[curve.length - 1];
  // The method's other figures (TRL's keys), as its step and eval events carry them.
  const stepFigures = otherFigures(last?.metrics, [view.curve]);
  const evalFigures = state.lastEval ? otherFigures(state.lastEval.metrics, [view.curve]) : '';
  const figureLines = (stepFigures ? 1 : 0) + (evalFigures ? 1 : 0);
  const chartHeight = Math.max(4, height - 9 - figureLines - state.warnings.length);
  const chart = lineChart(
    [
      { points: curve, glyph: '•' },
      { points: evalCurve, glyph: '◆' },
    ],
    columns,
    chartHeight - 1,
    total,
  );

  return (
    <>
      <Text wrap="truncate-end" color={tone('muted')}>
        {plan
          ? `plan: ${formatInt(plan.trainExamples)} train / ${formatInt(plan.valExamples)} eval examples` +
            (plan.droppedExamples ? ` (${plan.droppedExamples} dropped)` : '') +
            ` · ${plan.epochs} epochs × ${formatInt(plan.stepsPerEpoch)} = ${formatInt(plan.totalSteps)} steps · ${plan.microBatchesPerStep} micro-batches/step`
          : 'plan: computing…'}
      </Text>
      <Text wrap="truncate-end" color={tone('muted')}>
        {plan
          ? `      ${formatInt(plan.trainableParams)} trainable of ${formatInt(plan.totalParams)} params (${((100 * plan.trainableParams) / Math.max(1, plan.totalParams)).toFixed(2)}%)` +
            ` · ${formatInt(plan.trainTokensPerEpoch)} tokens/epoch` +
            (plan.workers > 1 ? ` · ${plan.workers} workers` : '') +
            (plan.maxPassTokens ? ` · passes of ≤${formatInt(plan.maxPassTokens)} tokens` : '') +
            (plan.resumedFromStep ? ` · resumed from step ${plan.resumedFromStep}` : '')
          : ''}
      </Text>
      <Text>
        <Text color={tone('good')}>{progressBar(step, total, Math.max(10, columns - counts.length - 2))}</Text> {counts}
      </Text>
      <Text wrap="truncate-end">
        {`${view.label} `}
        <Text bold color={tone(seriesTone[0])}>
          • {current ? current[1].toFixed(4) : '—'}
        </Text>
        {'  eval '}
        <Text bold color={tone(seriesTone[1])}>
          ◆ {lastEval ? `${lastEval[1].toFixed(4)} (step ${lastEval[0]})` : '—'}
        </Text>
        {'  lr '}
        {last ? last.lr.toExponential(2) : '—'}
        {'  '}
        {formatRate(last?.tokensPerSec ?? 0, 'tok/s')}
        {'  epoch '}
        {last ? last.epoch.toFixed(2) : '—'}
        {'  ETA '}
        <Text bold>{state.done ? '—' : formatDuration(last?.etaSec)}</Text>
      </Text>
      {stepFigures ? (
        <Text wrap="truncate-end">
          {view.curve === 'loss' ? '' : `loss ${last ? last.loss.toFixed(4) : '—'}  `}
          {stepFigures}
        </Text>
      ) : null}
      {evalFigures ? (
        <Text wrap="truncate-end">
          {`eval at step ${state.lastEval!.step}: `}
          {evalFigures}
        </Text>
      ) : null}
      <Text wrap="truncate-end" color={tone('muted')}>
        {last ? `grad norm ${last.gradNorm.toFixed(3)}` : ''}
        {state.lastCheckpoint ? `  last checkpoint: step ${state.lastCheckpoint.step} → ${state.lastCheckpoint.dir}` : ''}
      </Text>
      {state.warnings.map((w, i) => (
        <Text key={i} wrap="truncate-end" color={tone('warn')}>
          ! {w}
        </Text>
      ))}
      <Box flexDirection="column" height={chartHeight} marginTop={1} overflow="hidden">
        {chart.rows.map((runs, r) => (
          <Text key={r}>
            {runs.map((run, i) => (
              <Text key={i} color={run.series === -1 ? tone('muted') : tone(seriesTone[run.series])}>
                {run.text}
              </Text>
            ))}
          </Text>
        ))}
      </Box>
    </>
  );
}
