import { Box } from 'ink';
import { Text } from '../components/text.js';
import type { StoredItem } from '../../review/run-access.js';
import { oneLine } from '../format.js';
import { useTone, type Tone } from '../theme.js';

export const reviewGlyph: Record<string, string> = { accepted: '✓', rejected: '✗', skipped: '»', pending: '·' };
export const reviewTone: Record<string, Tone> = { accepted: 'good', rejected: 'bad', skipped: 'warn', pending: 'muted' };
export const statusShort: Record<string, string> = { kept: 'kept', rejected: 'rej ', duplicate: 'dup ', dropped: 'drop' };
export const statusTone: Record<string, Tone> = { kept: 'good', rejected: 'bad', duplicate: 'warn', dropped: 'muted' };

export function formatScore(score: number | null): string {
  if (score === null) return '  — ';
  return (Number.isInteger(score) ? String(score) : score.toFixed(1)).padStart(4);
}

interface Props {
  /** The rows on screen, from position `first` of `total`. */
  window: { first: number; rows: readonly StoredItem[]; total: number };
  cursor: number;
  width: number;
  height: number;
}

/** The first position the list shows: the window keeps the cursor in view, centred where it can. */
export function listTop(cursor: number, height: number, total: number): number {
  const rows = Math.max(1, height);
  return Math.max(0, Math.min(cursor - Math.floor(rows / 2), total - rows));
}

/** The scrolling list: one row per item, the cursor row in inverse video. */
export function ItemList({ window, cursor, width, height }: Props) {
  const tone = useTone();
  const rows = Math.max(1, height);
  const { first, rows: shown } = window;
  const idWidth = String(shown.reduce((m, i) => Math.max(m, i.id), 0)).length + 1;
  if (window.total === 0) {
    return (
      <Box width={width} height={rows}>
        <Text color={tone('muted')}>no items match (F clears the filter and search)</Text>
      </Box>
    );
  }
  return (
    <Box flexDirection="column" width={width} height={rows} overflow="hidden">
      {shown.map((item, j) => {
        const selected = first + j === cursor;
        const review = item.review ?? 'pending';
        return (
          <Box key={item.id} width={width} height={1}>
            <Text wrap="truncate-end" inverse={selected}>
              {selected ? '▸' : ' '}
              {`#${item.id}`.padEnd(idWidth + 1)}
              <Text color={tone(reviewTone[review])}>{reviewGlyph[review]} </Text>
              <Text color={tone(statusTone[item.status])}>{statusShort[item.status] ?? item.status}</Text>
              {formatScore(item.judgeScore)}
              {item.original ? ' ✎ ' : '   '}
              {oneLine(item.instruction)}
            </Text>
          </Box>
        );
      })}
    </Box>
  );
}
