import { Box } from 'ink';
import { Text } from './text.js';
import type { TextEdit } from '../text-edit.js';
import { useTone } from '../theme.js';

interface Props {
  label?: string;
  state: TextEdit;
  focused: boolean;
  /** Lines shown at most; the window follows the cursor. */
  maxLines?: number;
  placeholder?: string;
}

/** A text field drawn with an inverse-video cursor; editing happens in applyTextKey, not here. */
export function TextField({ label, state, focused, maxLines = 1, placeholder }: Props) {
  const tone = useTone();
  const lines = state.value.split('\n');
  let offset = 0;
  let cursorLine = 0;
  let cursorCol = state.cursor;
  for (let i = 0; i < lines.length; i++) {
    const len = lines[i]!.length;
    if (state.cursor <= offset + len) {
      cursorLine = i;
      cursorCol = state.cursor - offset;
      break;
    }
    offset += len + 1;
  }
  const first = Math.max(0, Math.min(cursorLine - Math.floor(maxLines / 2), lines.length - maxLines));
  const shown = lines.slice(first, first + maxLines);
  return (
    <Box flexDirection="column">
      {label !== undefined && (
        <Text bold={focused} color={tone(focused ? 'accent' : 'muted')}>
          {focused ? '▸ ' : '  '}
          {label}
          {lines.length > maxLines ? ` (line ${cursorLine + 1}/${lines.length})` : ''}
        </Text>
      )}
      {state.value === '' && !focused && placeholder ? (
        <Text color={tone('muted')}>{placeholder}</Text>
      ) : (
        shown.map((line, j) => {
          const i = first + j;
          if (!focused || i !== cursorLine) return <Text key={i}>{line === '' ? ' ' : line}</Text>;
          const at = line.codePointAt(cursorCol);
          const ch = at === undefined ? ' ' : String.fromCodePoint(at);
          return (
            <Text key={i}>
              {line.slice(0, cursorCol)}
              <Text inverse>{ch}</Text>
              {line.slice(cursorCol + (at === undefined ? 0 : ch.length))}
            </Text>
          );
        })
      )}
    </Box>
  );
}
