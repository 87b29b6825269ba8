import { Box } from 'ink';
import { Text } from '../components/text.js';
import { TextField } from '../components/text-field.js';
import { useTone } from '../theme.js';
import { editFieldNames, exportRows, filterRows, type ReviewMode } from './review-modes.js';

type Mode<K extends ReviewMode['kind']> = Extract<ReviewMode, { kind: K }>;

/** In-place editing of the three texts; the store keeps the original beside the edit. */
export function EditForm({ mode, width, height }: { mode: Mode<'edit'>; width: number; height: number }) {
  const tone = useTone();
  // Instruction and input get a few lines; the output, usually the longest, gets the rest.
  const small = Math.max(1, Math.min(4, Math.floor((height - 9) / 4)));
  const big = Math.max(1, height - 9 - 2 * small);
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden" paddingLeft={1}>
      <Text bold wrap="truncate-end">
        editing #{mode.id}
      </Text>
      <Text color={tone('muted')} wrap="truncate-end">
        ctrl+s save · esc cancel · tab next field · enter new line
      </Text>
      {editFieldNames.map((name, i) => (
        <Box key={name} marginTop={1}>
          <TextField label={name} state={mode.fields[i]!} focused={mode.focus === i} maxLines={name === 'output' ? big : small} />
        </Box>
      ))}
    </Box>
  );
}

const filterLabels: Record<(typeof filterRows)[number], string> = {
  status: 'curation status',
  review: 'review',
  reason: 'reason',
  minScore: 'judge score ≥',
  maxScore: 'judge score ≤',
};

export function FilterDialog({ mode, width }: { mode: Mode<'filter'>; width: number }) {
  const tone = useTone();
  const value = (row: (typeof filterRows)[number]) => {
    const d = mode.draft;
    if (row === 'status') return d.status ?? 'any';
    if (row === 'review') return d.review ?? 'any';
    if (row === 'reason') return d.reason ?? 'any';
    return null;
  };
  return (
    <Box flexDirection="column" width={width} paddingLeft={1} borderStyle="round">
      <Text bold>
        filter <Text color={tone('muted')}>←/→ change · tab/↓ next · enter apply · esc cancel</Text>
      </Text>
      {filterRows.map((row, i) => {
        const focused = mode.focus === i;
        const v = value(row);
        return (
          <Box key={row}>
            <Text color={tone(focused ? 'accent' : undefined)} bold={focused}>
              {focused ? '▸ ' : '  '}
              {filterLabels[row].padEnd(16)}
            </Text>
            {v !== null ? (
              <Text inverse={focused}>{focused ? `‹ ${v} ›` : v}</Text>
            ) : (
              <TextField state={mode.draft[row as 'minScore' | 'maxScore']} focused={focused} placeholder="any" />
            )}
          </Box>
        );
      })}
    </Box>
  );
}

const exportLabels: Record<(typeof exportRows)[number], string> = { set: 'samples', format: 'format', path: 'file' };
const setLabels = { accepted: 'accepted by review', usable: 'usable (accepted, or kept and not rejected)' };

export function ExportDialog({ mode, width }: { mode: Mode<'export'>; width: number }) {
  const tone = useTone();
  return (
    <Box flexDirection="column" width={width} paddingLeft={1} borderStyle="round">
      <Text bold>
        export <Text color={tone('muted')}>←/→ change · tab/↓ next · enter write · esc cancel</Text>
      </Text>
      {exportRows.map((row, i) => {
        const focused = mode.focus === i;
        return (
          <Box key={row}>
            <Text color={tone(focused ? 'accent' : undefined)} bold={focused}>
              {focused ? '▸ ' : '  '}
              {exportLabels[row].padEnd(9)}
            </Text>
            {row === 'path' ? (
              <TextField state={mode.path} focused={focused} />
            ) : (
              <Text inverse={focused}>{row === 'set' ? setLabels[mode.set] : mode.format}</Text>
            )}
          </Box>
        );
      })}
    </Box>
  );
}
