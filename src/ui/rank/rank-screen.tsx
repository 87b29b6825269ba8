import { useReducer, useRef } from 'react';
import { Box } from 'ink';
import { useKeys } from '../components/use-keys.js';
import { Text } from '../components/text.js';
import { HelpOverlay } from '../components/help-overlay.js';
import { hintLine } from '../keys.js';
import { useTerminalSize } from '../terminal-size.js';
import { useTone, type Tone } from '../theme.js';
import type { RankEntry, RankFacade, RankTiers } from '../../review/rank-facade.js';
import { RankSession } from './rank-session.js';

export interface RankScreenProps {
  facade: RankFacade;
  /** shown in the header: the run's directory name */
  runName: string;
  onQuit: () => void;
}

interface Line {
  text: string;
  tone?: Tone;
  bold?: boolean;
}

/** Greedy word wrap to `width` columns; a word longer than a line is cut. */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(8, width);
  const out: string[] = [];
  for (const para of text.replace(/\t/g, '  ').split('\n')) {
    let line = '';
    for (const word of para.split(/(\s+)/)) {
      if (word === '') continue;
      if ((line + word).length <= w) {
        line += word;
        continue;
      }
      if (line.trim() !== '') out.push(line.trimEnd());
      line = word.trimStart();
      while (line.length > w) {
        out.push(line.slice(0, w));
        line = line.slice(w);
      }
    }
    out.push(line.trimEnd());
  }
  return out;
}

/** Where a response stands in a ranking: "best", "worst", or its place ("2nd") in a full order. */
function placeIn(tiers: RankTiers | null | undefined, id: number, kind: string | undefined): string | null {
  if (!tiers) return null;
  const t = tiers.findIndex((tier) => tier.includes(id));
  if (t < 0) return null;
  if (kind === 'best-worst') return t === 0 ? 'best' : t === tiers.length - 1 ? 'worst' : null;
  const n = t + 1;
  return `${n}${n === 1 ? 'st' : n === 2 ? 'nd' : n === 3 ? 'rd' : 'th'}${tiers[t]!.length > 1 ? ' (tie)' : ''}`;
}

function responseLines(entry: RankEntry, width: number): Line[] {
  const lines: Line[] = [];
  entry.responses.forEach((r, i) => {
    const mine = placeIn(entry.human?.tiers, r.id, entry.human?.kind);
    const judge = placeIn(entry.judge, r.id, 'order');
    const head = [
      `[${i + 1}] ${r.model}${r.idx === 0 ? ' (the sample\'s own output)' : ''}`,
      r.rating === null ? 'not rated' : `judge ${r.rating}${judge ? ` · ${judge}` : ''}`,
      ...(mine ? [`yours: ${mine}`] : []),
    ].join(' · ');
    lines.push({ text: head, bold: true, tone: mine === 'best' || mine?.startsWith('1st') ? 'good' : mine === 'worst' ? 'bad' : 'accent' });
    for (const l of wrapText(r.text, width - 4)) lines.push({ text: `    ${l}` });
    lines.push({ text: '' });
  });
  return lines;
}

/** The ranking screen: the sample on top, its responses below (scrollable), progress and agreement with the judge. */
export function RankScreen(props: RankScreenProps) {
  const sessionRef = useRef<RankSession | null>(null);
  sessionRef.current ??= new RankSession(props.facade);
  const session = sessionRef.current;
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const { columns, rows } = useTerminalSize();
  const tone = useTone();

  useKeys((input, key) => {
    if (session.handleInput(input, key)) redraw();
    if (session.quit) props.onQuit();
  });

  // One line short of the terminal: ink clears the whole screen on every frame that fills it.
  const height = Math.max(10, rows - 1);
  const entry = session.current;
  const p = session.progress;
  const agreement = session.agreement;
  const agreeText = agreement.total ? `judge agrees on ${agreement.agree}/${agreement.total} pairs (${Math.round((100 * agreement.agree) / agreement.total)}%)` : 'no overlap with the judge yet';

  let body;
  let bodyHeight = height - 4;
  if (session.mode.kind === 'help') {
    body = <HelpOverlay scope="rank" title="rank keys" width={columns} height={bodyHeight} />;
  } else if (!entry) {
    body = <Text color={tone('muted')}>No sample has two or more responses: run `alpaca-forge respond --run DIR --responses 4` first.</Text>;
  } else {
    const sampleLines: Line[] = [
      ...wrapText(entry.instruction, columns - 2).map((t, i) => ({ text: `${i === 0 ? 'Instruction: ' : '             '}${t}`, bold: i === 0 })),
      ...(entry.input.trim() === '' ? [] : wrapText(entry.input, columns - 2).map((t, i) => ({ text: `${i === 0 ? 'Input: ' : '       '}${t}` }))),
    ];
    const top = sampleLines.slice(0, Math.max(2, Math.floor(bodyHeight / 3)));
    if (sampleLines.length > top.length) top[top.length - 1] = { text: `${top[top.length - 1]!.text.slice(0, columns - 4)} …` };
    const paneHeight = Math.max(3, bodyHeight - top.length - 1);
    const lines = responseLines(entry, columns);
    session.pageSize = paneHeight;
    session.scroll = Math.min(session.scroll, Math.max(0, lines.length - paneHeight));
    const shown = lines.slice(session.scroll, session.scroll + paneHeight);
    const below = lines.length - session.scroll - shown.length;
    body = (
      <Box flexDirection="column">
        {top.map((l, i) => (
          <Text key={`s${i}`} wrap="truncate-end" bold={l.bold ?? false}>
            {l.text}
          </Text>
        ))}
        <Text color={tone('muted')} wrap="truncate-end">
          {`── ${entry.responses.length} responses${session.scroll > 0 ? ` · ${session.scroll} lines above` : ''}${below > 0 ? ` · ${below} lines below (j/k)` : ''} `.padEnd(columns, '─')}
        </Text>
        {shown.map((l, i) => (
          <Text key={`r${i}`} wrap="truncate-end" bold={l.bold ?? false} color={tone(l.tone)}>
            {l.text === '' ? ' ' : l.text}
          </Text>
        ))}
      </Box>
    );
  }

  const mode = session.mode;
  const prompt =
    mode.kind === 'best'
      ? 'best: press its number (esc cancels)'
      : mode.kind === 'worst'
        ? `best ${mode.best} · worst: press its number (esc cancels)`
        : mode.kind === 'order'
          ? `order, best first: ${mode.picked.join(' > ') || '…'} (esc cancels)`
          : null;
  const decided = entry?.human ? (entry.human.kind === 'skip' ? 'skipped' : `ranked (${entry.human.kind})`) : 'not ranked';
  return (
    <Box flexDirection="column" width={columns} height={height}>
      <Text wrap="truncate-end">
        <Text bold color={tone('accent')}>
          rank
        </Text>{' '}
        {props.runName} · sample {entry ? session.cursor + 1 : 0} of {p.total}
        {entry ? ` · #${entry.itemId} · ${decided}` : ''}
      </Text>
      <Box height={bodyHeight} flexDirection="column" overflow="hidden">
        {body}
      </Box>
      <Text wrap="truncate-end">
        <Text color={tone('good')}>ranked {p.ranked}/{p.total}</Text> · <Text color={tone('warn')}>skipped {p.skipped}</Text> · {agreeText}
      </Text>
      {prompt ? (
        <Text wrap="truncate-end" color={tone('accent')} bold>
          {session.message ? <Text color={tone(session.message.tone)}>{session.message.text} · </Text> : null}
          {prompt}
        </Text>
      ) : session.message ? (
        <Text wrap="truncate-end" color={tone(session.message.tone)}>
          {session.message.text}
        </Text>
      ) : (
        <Text wrap="truncate-end" color={tone('muted')}>
          {hintLine('rank', ['best', 'order', 'skip', 'undo', 'next', 'previous', 'scrollDown', 'help', 'quit'])}
        </Text>
      )}
    </Box>
  );
}
