import { Text } from '../components/text.js';
import type { JudgeEvent } from '../../events.js';
import { JobFrame, jobStatus, useJob, type JobHooks } from '../components/job-shell.js';
import { describeTransport } from '../generate/generate-state.js';
import { formatDuration, formatInt, formatRate, formatUsd, progressBar } from '../format.js';
import { hintLine } from '../keys.js';
import { useTone } from '../theme.js';
import { initialJudgeState, reduceJudge, type JudgeState } from './judge-state.js';

export type JudgeHooks = Omit<JobHooks<JudgeEvent>, 'pause'>;

export interface JudgeScreenProps {
  runDir: string;
  /** judge: a 0–5 score per sample; rank: a rating per candidate response, then each sample's order */
  mode: 'judge' | 'rank';
  start: (hooks: JudgeHooks) => Promise<unknown>;
  onExit: () => void;
}

/** The LLM judge over a run (curate --judge or --rank) as a job: progress, scored and failed, cost, stop and finish. */
export function JudgeScreen({ runDir, mode, start, onExit }: JudgeScreenProps) {
  const { state, flags, help } = useJob({ scope: 'judge', initial: initialJudgeState, reduce: reduceJudge, start, onExit });
  const st = state.start;
  const d = state.done;
  const status = jobStatus(flags, {
    done: d ? { text: d.message, tone: d.stop === 'done' && (d.scored > 0 || d.failed === 0) ? 'good' : 'warn' } : null,
    stopping: 'stopping: waiting for ratings in flight to be saved…',
    idle: { text: hintLine('judge', ['stop', 'help']), tone: 'muted' },
  });
  const what = mode === 'rank' ? 'rank the candidate responses' : 'score the samples';
  const title = `${runDir} · ${what}${st ? ` · ${st.model} · ×${st.concurrency}${st.rejudge ? ' · rejudge' : ''}` : ' · starting…'}`;
  return (
    <JobFrame scope="judge" help={help} title={title} status={status} minHeight={7}>
      {({ columns }) => <JudgeProgress state={state} mode={mode} columns={columns} />}
    </JobFrame>
  );
}

function JudgeProgress({ state, mode, columns }: { state: JudgeState; mode: 'judge' | 'rank'; columns: number }) {
  const tone = useTone();
  const p = state.progress;
  const done = p?.done ?? 0;
  const total = p?.total ?? 0;
  const unit = mode === 'rank' ? 'responses' : 'samples';
  const counts = `${formatInt(done)} / ${formatInt(total)} ${unit} rated`;
  const transport = state.transport;
  const ranked = state.done?.ranked;
  return (
    <>
      <Text>
        <Text color={tone('good')}>{progressBar(done, total, Math.max(10, columns - counts.length - 2))}</Text> {counts}
      </Text>
      <Text wrap="truncate-end">
        <Text color={tone('good')}>{formatInt(p?.scored ?? 0)} scored</Text>
        {' · '}
        <Text color={tone((p?.failed ?? 0) > 0 ? 'warn' : 'muted')}>{formatInt(p?.failed ?? 0)} failed or unreadable</Text>
        {'  '}
        {formatRate(p && p.elapsedSec > 0 ? p.done / p.elapsedSec : 0, `${unit}/s`)}
        {'  elapsed '}
        {formatDuration(p?.elapsedSec ?? 0)}
      </Text>
      <Text wrap="truncate-end">
        {'cost '}
        <Text bold>{formatUsd(p?.costUsd ?? 0)}</Text>
        {'  endpoint '}
        <Text color={tone(transport.state === 'ok' ? 'good' : transport.state === 'backoff' ? 'warn' : 'bad')}>{describeTransport(transport)}</Text>
      </Text>
      {ranked ? (
        <Text wrap="truncate-end">
          {`${formatInt(ranked.ranked)} samples ordered (${formatInt(ranked.withTies)} with ties)`}
          {ranked.incomplete ? <Text color={tone('warn')}>{` · ${formatInt(ranked.incomplete)} with a response not rated yet`}</Text> : null}
        </Text>
      ) : null}
      {state.warnings.map((w, i) => (
        <Text key={i} wrap="truncate-end" color={tone('warn')}>
          ! {w}
        </Text>
      ))}
    </>
  );
}
