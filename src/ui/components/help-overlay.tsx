import { Box, Text } from 'ink';
import { helpRows, type Scope } from '../keys.js';
import { useTone } from '../theme.js';

/** The keys of a screen, read from the key table so help never disagrees with what the keys do. */
export function HelpOverlay({ scope, title, width }: { scope: Scope; title: string; width: number }) {
  const tone = useTone();
  const rows = helpRows(scope);
  const keyWidth = Math.max(...rows.map((r) => r.keys.length)) + 2;
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={Math.min(width, 90)}>
      <Text bold>
        {title} <Text color={tone('muted')}>(esc or ? to close)</Text>
      </Text>
      {rows.map((r) => (
        <Text key={r.keys} wrap="truncate-end">
          <Text color={tone('accent')} bold>
            {r.keys.padEnd(keyWidth)}
          </Text>
          {r.help}
        </Text>
      ))}
    </Box>
  );
}
