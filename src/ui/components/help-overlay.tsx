import { Box } from 'ink';
import { Text } from './text.js';
import { helpRows, type Scope } from '../keys.js';
import { useTone } from '../theme.js';

/**
 * The keys of a screen, read from the key table so help never disagrees with what the keys do. When the rows do
 * not fit the height, they flow into two columns.
 */
export function HelpOverlay({ scope, title, width, height = 100 }: { scope: Scope; title: string; width: number; height?: number }) {
  const tone = useTone();
  const rows = helpRows(scope);
  const keyWidth = Math.max(...rows.map((r) => r.keys.length)) + 2;
  const fit = Math.max(1, height - 3);
  const columns = rows.length > fit && width >= 100 ? [rows.slice(0, Math.ceil(rows.length / 2)), rows.slice(Math.ceil(rows.length / 2))] : [rows];
  const boxWidth = Math.min(width, columns.length === 2 ? width : 90);
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={boxWidth}>
      <Text bold>
        {title} <Text color={tone('muted')}>(esc or ? to close)</Text>
      </Text>
      <Box>
        {columns.map((col, i) => (
          <Box key={i} flexDirection="column" width={Math.floor((boxWidth - 4) / columns.length)}>
            {col.map((r) => (
              <Text key={r.keys} wrap="truncate-end">
                <Text color={tone('accent')} bold>
                  {r.keys.padEnd(keyWidth)}
                </Text>
                {r.help}
              </Text>
            ))}
          </Box>
        ))}
      </Box>
    </Box>
  );
}
