import { Box } from 'ink';
import { Text } from '../components/text.js';
import type { GenerateEvent } from '../../events.js';
import { JobFrame, jobStatus, useJob, type JobHooks } from '../components/job-shell.js';
import { formatDuration, formatInt, formatRate, formatUsd, oneLine, progressBar } from '../format.js';
import { hintLine } from '../keys.js';
import { useTone } from '../theme.js';
import { describeTransport, initialGenerateState, reduceGenerate, rejectionRows, type GenerateState } from './generate-state.js';

export type GenerationHooks = JobHooks<GenerateEvent>;

export interface GenerateScreenProps {
  /** the run directory, for the header */
  runDir: string;
  /** Starts the engine; resolves when it has stopped (target, budget, stop key, endpoint down). */
  start: (hooks: GenerationHooks) => Promise<unknown>;
  /** The user left after the engine stopped. */
  onExit: () => void;
}

export function GenerateScreen({ runDir, start, onExit }: GenerateScreenProps) {
  const { state, flags, help } = useJob({ scope: 'generate', initial: initialGenerateState, reduce: reduceGenerate, start, onExit, pausable: true });
  const tone = useTone();
  const st = state.start;
  const status = jobStatus(flags, {
    done: state.done ? { text: state.done.message, tone: state.done.reason === 'target' ? 'good' : 'warn' } : null,
    stopping: 'stopping: waiting for requests in flight to be saved…',
    idle: { text: hintLine('generate', ['pause', 'stop', 'help']), tone: 'muted' },
  });
  const title = `${runDir}${st ? ` · ${st.model} @ ${st.baseUrl} · ${st.template} · ${st.lang} · ×${st.concurrency}${st.resumed ? ' · resumed' : ''}` : ' · starting…'}`;
  return (
    <JobFrame scope="generate" help={help} title={title} status={status} minHeight={10}>
      {(size) => <GenerateProgress state={state} {...size} />}
    </JobFrame>
  );
}

/** Everything between the title and the status line: progress, cost, endpoints, rejections and the latest kept. */
function GenerateProgress({ state, columns, height }: { state: GenerateState; columns: number; height: number }) {
  const tone = useTone();
  const st = state.start;
  const p = state.progress;
  const kept = p?.kept ?? st?.kept ?? 0;
  const target = p?.target ?? st?.target ?? 0;
  const pct = target > 0 ? ((100 * kept) / target).toFixed(1) : '0.0';
  const counts = `${formatInt(kept)} / ${formatInt(target)} (${pct}%)`;
  const barWidth = Math.max(10, columns - counts.length - 4);
  const transport = state.transport;
  const rejections = rejectionRows(p);
  const wide = columns >= 100;
  const pool = p?.endpoints ?? [];
  const fixedLines = 8 + state.warnings.length + pool.length + (state.batch ? 1 : 0);
  const panelHeight = Math.max(3, height - fixedLines);
  const rejWidth = wide ? 34 : columns;
  const latestWidth = wide ? columns - rejWidth - 1 : columns;
  const rejHeight = wide ? panelHeight : Math.min(panelHeight, Math.max(2, rejections.length + 1), Math.floor(panelHeight / 2));
  const latestHeight = wide ? panelHeight : panelHeight - rejHeight;
  return (
    <>
      <Text>
        <Text color={tone('good')}>{progressBar(kept, target, barWidth)}</Text> {counts}
      </Text>
      <Text wrap="truncate-end">
        {'ETA '}
        <Text bold>{state.done ? '—' : formatDuration(p?.etaSec)}</Text>
        {'  elapsed '}
        {formatDuration(p?.elapsedSec ?? 0)}
        {'  '}
        {formatRate(p?.requestsPerSec ?? 0, 'req/s')}
        {'  '}
        {formatRate(p?.tokensPerSec ?? 0, 'tok/s')}
      </Text>
      <Text wrap="truncate-end">
        {'requests '}
        {formatInt(p?.requestsDone ?? 0)} done · {formatInt(p?.requestsFailed ?? 0)} failed · {p?.inFlight ?? 0} in flight{'  tokens '}
        {formatInt(p?.promptTokens ?? 0)} in / {formatInt(p?.completionTokens ?? 0)} out
      </Text>
      <Text wrap="truncate-end">
        {'cost '}
        <Text bold>{formatUsd(p?.costUsd ?? 0)}</Text>
        {p?.budgetUsd != null ? ` of ${formatUsd(p.budgetUsd)} budget (${Math.round((100 * p.costUsd) / p.budgetUsd)}%)` : ' · no budget set'}
      </Text>
      <Text wrap="truncate-end">
        {'endpoint '}
        <Text color={tone(transport.state === 'ok' ? 'good' : transport.state === 'backoff' ? 'warn' : 'bad')}>{describeTransport(transport)}</Text>
        {st && st.abandonedRequests > 0 ? <Text color={tone('muted')}> · {st.abandonedRequests} requests abandoned by the last run</Text> : null}
      </Text>
      {pool.map((e) => (
        <Text key={e.endpoint} wrap="truncate-end">
          {'  '}
          <Text color={tone(e.state === 'up' ? 'good' : e.state === 'down' ? 'warn' : 'bad')}>{e.state.padEnd(7)}</Text> {e.endpoint} ({e.model}) · {formatRate(e.requestsPerSec, 'req/s')} ·{' '}
          {formatInt(e.ok)} ok · {formatInt(e.failed)} failed · {e.inFlight} in flight
        </Text>
      ))}
      {state.batch ? (
        <Text wrap="truncate-end" color={tone('info')}>
          batch {state.batch}
        </Text>
      ) : null}
      {state.warnings.map((w, i) => (
        <Text key={i} wrap="truncate-end" color={tone('warn')}>
          ! {w}
        </Text>
      ))}
      <Box flexDirection={wide ? 'row' : 'column'} marginTop={1} height={panelHeight} overflow="hidden">
        <Box flexDirection="column" width={rejWidth} height={rejHeight} overflow="hidden">
          <Text bold>rejected by reason</Text>
          {rejections.length === 0 ? <Text color={tone('muted')}>none yet</Text> : null}
          {rejections.map((r) => (
            <Text key={r.reason} wrap="truncate-end">
              {r.reason.padEnd(Math.max(12, rejWidth - 10))}
              {formatInt(r.count).padStart(8)}
            </Text>
          ))}
        </Box>
        <Box flexDirection="column" width={latestWidth} height={latestHeight} overflow="hidden" marginLeft={wide ? 1 : 0}>
          <Text bold>latest kept</Text>
          {state.latest.length === 0 ? <Text color={tone('muted')}>none yet</Text> : null}
          {state.latest.slice(0, Math.max(0, latestHeight - 1)).map((s) => (
            <Text key={s.id} wrap="truncate-end">
              <Text color={tone('muted')}>#{s.id} </Text>
              {oneLine(s.instruction)}
              {s.input ? <Text color={tone('muted')}> [{oneLine(s.input)}]</Text> : null}
            </Text>
          ))}
        </Box>
      </Box>
    </>
  );
}
