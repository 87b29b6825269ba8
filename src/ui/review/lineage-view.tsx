import { Box } from 'ink';
import { Text } from '../components/text.js';
import { hintLine } from '../keys.js';
import { oneLine } from '../format.js';
import { useTone } from '../theme.js';
import { reviewTone, statusTone } from './item-list.js';
import { stepLabel, type LineageSession, type LineageStep } from './lineage-session.js';

interface Props {
  tree: LineageSession;
  width: number;
  height: number;
}

/**
 * The evolution tree of an item: root → … → item, one generation per line with the operator and round that made
 * it, then the items evolved from it; below, the texts of the step under the cursor.
 */
export function LineageView({ tree, width, height }: Props) {
  const tone = useTone();
  const chain = tree.chain;
  const children = tree.children;
  const listRows = Math.max(1, Math.min(chain.length + children.length + 2, Math.floor((height - 1) / 2)));
  const row = (step: LineageStep, i: number, indent: string, glyph: string) => {
    const at = i === tree.cursor;
    const focused = step.prov.itemId === tree.focusId;
    const item = step.item;
    return (
      <Text key={`${i}-${step.prov.itemId}`} wrap="truncate-end" inverse={at}>
        {at ? '▸' : ' '}
        {indent}
        {glyph}#{step.prov.itemId} <Text color={tone('accent')}>{stepLabel(step.prov)}</Text>
        {item ? <Text color={tone(statusTone[item.status])}> {item.status}</Text> : <Text color={tone('muted')}> (not in the run)</Text>}
        {item ? <Text color={tone(reviewTone[item.review ?? 'pending'])}> {item.review ?? 'pending'}</Text> : null}
        {focused ? ' ◂' : ''} {item ? oneLine(item.instruction) : ''}
      </Text>
    );
  };
  const shown = [
    ...chain.map((s, i) => row(s, i, '  '.repeat(Math.max(0, i - 1)), i === 0 ? '' : '└ ')),
    ...(children.length
      ? [
          <Text key="children" color={tone('muted')} wrap="truncate-end">
            {'  '}evolved from #{tree.focusId}: {children.length}
          </Text>,
          ...children.map((s, j) => row(s, chain.length + j, '  '.repeat(chain.length), j === children.length - 1 ? '└ ' : '├ ')),
        ]
      : []),
  ];
  // Keep the cursor in view when the tree is taller than its half of the screen. The "evolved from" line sits
  // between the chain and the children; the cursor counts steps only.
  const cursorLine = tree.cursor < chain.length ? tree.cursor : tree.cursor + 1;
  const top = Math.max(0, Math.min(cursorLine - Math.floor(listRows / 2), shown.length - listRows));
  const visible = shown.slice(top, top + listRows);
  const sel = tree.selected?.item;
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold wrap="truncate-end">
        tree of #{tree.focusId}
        {chain.length ? ` · root #${chain[0]!.prov.itemId} · ${tree.depth} generation${tree.depth === 1 ? '' : 's'} below it` : ''}
      </Text>
      <Box flexDirection="column" height={listRows} overflow="hidden">
        {visible}
      </Box>
      <Box flexDirection="column" height={Math.max(1, height - listRows - 2)} overflow="hidden" marginTop={0}>
        {sel ? (
          <>
            <Text color={tone('muted')}>instruction</Text>
            <Text>{sel.instruction}</Text>
            {sel.input ? <Text color={tone('muted')}>input</Text> : null}
            {sel.input ? <Text>{sel.input}</Text> : null}
            <Text color={tone('muted')}>output</Text>
            <Text>{sel.output}</Text>
          </>
        ) : null}
      </Box>
      <Text wrap="truncate-end" color={tone(tree.message?.tone ?? 'muted')}>
        {tree.message?.text ?? hintLine('tree', ['down', 'up', 'open', 'parent', 'back'])}
      </Text>
    </Box>
  );
}
