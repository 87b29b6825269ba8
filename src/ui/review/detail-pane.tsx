import { Box } from 'ink';
import { Text } from '../components/text.js';
import type { StoredItem } from '../../review/run-access.js';
import { oneLine } from '../format.js';
import { useTone } from '../theme.js';
import { reviewTone, statusTone } from './item-list.js';
import type { SimilarInfo } from './similar.js';

interface Props {
  item: StoredItem | undefined;
  similar: SimilarInfo | null;
  width: number;
  height: number;
  /** a line on the left, between the list and this pane */
  divider?: boolean;
}

/** Everything about one sample: curation verdict, judge, review, the most similar earlier task, then the texts. */
export function DetailPane({ item, similar, width, height, divider = false }: Props) {
  const tone = useTone();
  if (!item) return <Box width={width} height={height} />;
  const review = item.review ?? 'pending';
  return (
    <Box
      flexDirection="column"
      width={width}
      height={height}
      overflow="hidden"
      paddingLeft={1}
      borderStyle="single"
      borderColor={tone('muted')}
      borderTop={false}
      borderBottom={false}
      borderRight={false}
      borderLeft={divider}
    >
      <Text wrap="truncate-end">
        <Text bold>#{item.id}</Text>
        {'  '}
        <Text color={tone(statusTone[item.status])}>{item.status}</Text>
        {item.reason ? <Text color={tone('muted')}> ({item.detail ? `${item.reason}: ${oneLine(item.detail)}` : item.reason})</Text> : null}
        {'  review: '}
        <Text color={tone(reviewTone[review])} bold>
          {review}
        </Text>
        {item.original ? <Text color={tone('info')}> · edited</Text> : null}
      </Text>
      <Text wrap="truncate-end">
        {'judge: '}
        {item.judgeScore === null ? <Text color={tone('muted')}>not judged</Text> : <Text bold>{item.judgeScore}</Text>}
        {item.judgeReason ? <Text color={tone('muted')}> — {oneLine(item.judgeReason)}</Text> : null}
      </Text>
      <Text wrap="truncate-end">
        {'most similar: '}
        {similar === null ? (
          <Text color={tone('muted')}>none recorded</Text>
        ) : (
          <>
            <Text bold>{similar.label}</Text>
            {'  ROUGE-L '}
            <Text color={tone(similar.score >= 0.7 ? 'warn' : undefined)} bold>
              {similar.score.toFixed(2)}
            </Text>
            {similar.instruction !== null ? <Text color={tone('muted')}> “{oneLine(similar.instruction)}”</Text> : null}
          </>
        )}
      </Text>
      <Section title="Instruction" text={item.instruction} />
      {item.input !== '' ? <Section title="Input" text={item.input} /> : null}
      <Section title="Output" text={item.output} />
      {item.original ? <Section title="Original instruction (before edit)" text={item.original.instruction} muted /> : null}
    </Box>
  );
}

function Section({ title, text, muted = false }: { title: string; text: string; muted?: boolean }) {
  const tone = useTone();
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold color={tone('accent')}>
        {title}
      </Text>
      <Text color={tone(muted ? 'muted' : undefined)}>{text === '' ? ' ' : text}</Text>
    </Box>
  );
}
