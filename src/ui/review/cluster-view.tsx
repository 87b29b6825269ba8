import { Box } from 'ink';
import { Text } from '../components/text.js';
import { hintLine } from '../keys.js';
import { oneLine } from '../format.js';
import { useTone } from '../theme.js';
import { reviewTone } from './item-list.js';
import type { ClusterMember, ClusterSession } from './cluster-session.js';

interface Props {
  cluster: ClusterSession;
  width: number;
  height: number;
}

/** The survivor of a duplicate cluster on the left, its duplicates on the right with similarity and reason. */
export function ClusterView({ cluster, width, height }: Props) {
  const tone = useTone();
  const left = Math.floor(width / 2);
  const right = width - left;
  const dups = cluster.duplicates;
  const textRows = Math.max(1, height - 4);
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Box height={height - 1}>
        <Box flexDirection="column" width={left} paddingRight={1} overflow="hidden">
          <Text bold color={tone('good')} wrap="truncate-end">
            survivor #{cluster.survivor.item.id} · {cluster.survivor.item.review ?? 'pending'}
          </Text>
          <MemberText member={cluster.survivor} width={left - 1} rows={textRows} />
        </Box>
        <Box flexDirection="column" width={right} paddingLeft={1} borderStyle="single" borderTop={false} borderBottom={false} borderRight={false} borderColor={tone('muted')} overflow="hidden">
          <Text bold wrap="truncate-end">
            {dups.length} duplicate{dups.length === 1 ? '' : 's'}
          </Text>
          {dups.map((d, i) => (
            <Text key={d.item.id} wrap="truncate-end" inverse={i === cluster.cursor}>
              {i === cluster.cursor ? '▸' : ' '}#{d.item.id} <Text color={tone(reviewTone[d.item.review ?? 'pending'] ?? 'muted')}>{d.item.review ?? 'pending'}</Text> {similarityLabel(d)} {oneLine(d.item.instruction)}
            </Text>
          ))}
          {cluster.selected ? <MemberText member={cluster.selected} width={right - 2} rows={Math.max(1, textRows - dups.length)} /> : null}
        </Box>
      </Box>
      <Text wrap="truncate-end" color={tone(cluster.message?.tone ?? 'muted')}>
        {cluster.message?.text ?? hintLine('cluster', ['swap', 'restore', 'confirm', 'undo', 'back'])}
      </Text>
    </Box>
  );
}

/** "minhash 0.82": the method that removed it and how similar it is to the item kept. */
export function similarityLabel(m: ClusterMember): string {
  const method = m.reason?.replace(/^duplicate:/, '') ?? 'kept';
  return m.similarity === null ? method : `${method} ${m.similarity.toFixed(2)}`;
}

function MemberText({ member, width, rows }: { member: ClusterMember; width: number; rows: number }) {
  const tone = useTone();
  const it = member.item;
  return (
    <Box flexDirection="column" width={width} height={rows} overflow="hidden">
      <Text color={tone('muted')}>instruction</Text>
      <Text>{it.instruction}</Text>
      {it.input ? <Text color={tone('muted')}>input</Text> : null}
      {it.input ? <Text>{it.input}</Text> : null}
      <Text color={tone('muted')}>output</Text>
      <Text>{it.output}</Text>
    </Box>
  );
}
