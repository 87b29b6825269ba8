import { Text } from '../components/text.js';
import type { RespondEvent } from '../../events.js';
import { JobFrame, jobStatus, useJob, type JobHooks } from '../components/job-shell.js';
import { describeTransport } from '../generate/generate-state.js';
import { formatDuration, formatInt, formatUsd, progressBar } from '../format.js';
import { hintLine } from '../keys.js';
import { useTone } from '../theme.js';
import { initialRespondState, reduceRespond, type RespondState } from './respond-state.js';

export type RespondHooks = Omit<JobHooks<RespondEvent>, 'pause'>;

export interface RespondScreenProps {
  runDir: string;
  /** Starts respond; resolves when it has stopped (all slots filled, budget, stop key, endpoint down). */
  start: (hooks: RespondHooks) => Promise<unknown>;
  onExit: () => void;
}

/** `respond` as a job: K candidate answers per sample, with progress, cost, the endpoint's state, stop and finish. */
export function RespondScreen({ runDir, start, onExit }: RespondScreenProps) {
  const { state, flags, help } = useJob({ scope: 'respond', initial: initialRespondState, reduce: reduceRespond, start, onExit });
  const st = state.start;
  const status = jobStatus(flags, {
    done: state.done ? { text: state.done.message, tone: state.done.reason === 'done' ? 'good' : 'warn' } : null,
    stopping: 'stopping: waiting for answers in flight to be saved…',
    idle: { text: hintLine('respond', ['stop', 'help']), tone: 'muted' },
  });
  const title = `${runDir}${st ? ` · ${st.models.join(', ')} @ ${st.baseUrl} · ×${st.concurrency}${st.resumed ? ' · resumed' : ''}` : ' · starting…'}`;
  return (
    <JobFrame scope="respond" help={help} title={title} status={status} minHeight={8}>
      {({ columns }) => <RespondProgress state={state} columns={columns} />}
    </JobFrame>
  );
}

function RespondProgress({ state, columns }: { state: RespondState; columns: number }) {
  const tone = useTone();
  const st = state.start;
  const p = state.progress;
  const filled = p?.filled ?? st?.filled ?? 0;
  const slots = p?.slots ?? st?.slots ?? 0;
  const counts = `${formatInt(filled)} / ${formatInt(slots)} responses${st ? ` for ${formatInt(st.items)} samples` : ''}`;
  const transport = state.transport;
  return (
    <>
      <Text>
        <Text color={tone('good')}>{progressBar(filled, slots, Math.max(10, columns - counts.length - 2))}</Text> {counts}
      </Text>
      <Text wrap="truncate-end">
        {'requests '}
        {formatInt(p?.requestsDone ?? 0)} done · {formatInt(p?.requestsFailed ?? 0)} failed · {p?.inFlight ?? 0} in flight{'  tokens '}
        {formatInt(p?.promptTokens ?? 0)} in / {formatInt(p?.completionTokens ?? 0)} out{'  elapsed '}
        {formatDuration(p?.elapsedSec ?? 0)}
      </Text>
      <Text wrap="truncate-end">
        {'cost '}
        <Text bold>{formatUsd(p?.costUsd ?? 0)}</Text>
        {st && st.abandoned > 0 ? <Text color={tone('muted')}> · {st.abandoned} answers abandoned by the last run, asked again</Text> : null}
      </Text>
      <Text wrap="truncate-end">
        {'endpoint '}
        <Text color={tone(transport.state === 'ok' ? 'good' : transport.state === 'backoff' ? 'warn' : 'bad')}>{describeTransport(transport)}</Text>
      </Text>
      {(p?.endpoints ?? []).map((e) => (
        <Text key={e.endpoint + e.model} wrap="truncate-end">
          {'  '}
          <Text color={tone(e.state === 'up' ? 'good' : e.state === 'down' ? 'warn' : 'bad')}>{e.state.padEnd(7)}</Text> {e.endpoint} ({e.model}) · {formatInt(e.ok)} ok · {formatInt(e.failed)} failed · {e.inFlight} in flight
        </Text>
      ))}
      {state.warnings.map((w, i) => (
        <Text key={i} wrap="truncate-end" color={tone('warn')}>
          ! {w}
        </Text>
      ))}
    </>
  );
}
