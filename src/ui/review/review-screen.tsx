import { useReducer, useRef } from 'react';
import { Box } from 'ink';
import { useKeys } from '../components/use-keys.js';
import { Text } from '../components/text.js';
import type { Sample } from '../../data/sample.js';
import { hintLine } from '../keys.js';
import { HelpOverlay } from '../components/help-overlay.js';
import { TextField } from '../components/text-field.js';
import { useTerminalSize } from '../terminal-size.js';
import { useTone } from '../theme.js';
import { DetailPane } from './detail-pane.js';
import { ItemList, listTop } from './item-list.js';
import { EditForm, ExportDialog, FilterDialog } from './review-dialogs.js';
import type { ProvenanceAccess, ReviewStore } from '../../review/run-access.js';
import { ReviewSession } from './review-session.js';
import { isFilterEmpty, sortLabels, type ReviewFilter } from './review-view.js';
import { resolveSimilar } from './similar.js';
import { ClusterSession } from './cluster-session.js';
import { ClusterView } from './cluster-view.js';
import { LineageSession, noProvenance } from './lineage-session.js';
import { LineageView } from './lineage-view.js';
import { commandFor, keyNames } from '../keys.js';

export interface ReviewScreenProps {
  store: ReviewStore;
  /** shown in the header: the run's directory name */
  runName: string;
  /** instruction of a seed task by id, to show a seed as the most similar task */
  seedInstruction?: (seedId: string) => string | undefined;
  /** where items came from (Evol-Instruct parents, roots, operators, rounds), for the tree view */
  provenance?: ProvenanceAccess;
  /** $EDITOR, when the launcher can hand the terminal over */
  openEditor?: (text: Sample) => Sample | null;
  onQuit: () => void;
}

/** Terminal widths from which the detail pane sits beside the list instead of under it. */
const WIDE = 110;

export function ReviewScreen(props: ReviewScreenProps) {
  const sessionRef = useRef<ReviewSession | null>(null);
  sessionRef.current ??= new ReviewSession(props.store, props.openEditor ? { openEditor: props.openEditor } : {});
  const session = sessionRef.current;
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const clusterRef = useRef<ClusterSession | null>(null);
  const treeRef = useRef<LineageSession | null>(null);
  const { columns, rows } = useTerminalSize();
  const tone = useTone();

  useKeys((input, key) => {
    const cluster = clusterRef.current;
    if (cluster) {
      cluster.handleInput(input, key);
      if (cluster.closed) clusterRef.current = null;
      return redraw();
    }
    const tree = treeRef.current;
    if (tree) {
      tree.handleInput(input, key);
      if (tree.closed) treeRef.current = null;
      return redraw();
    }
    const opens = session.mode.kind === 'list' && session.selected ? keyNames(input, key).map((k) => commandFor('review', k)) : [];
    if (opens.includes('cluster')) {
      clusterRef.current = new ClusterSession(props.store, (before, after) => session.changedElsewhere(before, after), session.selected!);
      return redraw();
    }
    if (opens.includes('tree')) {
      treeRef.current = new LineageSession(props.store, props.provenance ?? noProvenance, session.selected!);
      return redraw();
    }
    if (session.handleInput(input, key)) redraw();
    if (session.quit) props.onQuit();
  });

  // One line short of the terminal: ink clears the whole screen on every frame that fills it.
  const height = Math.max(8, rows - 1);
  const bodyHeight = height - 3;
  const wide = columns >= WIDE;
  const listWidth = wide ? Math.floor(columns * 0.45) : columns;
  const listHeight = wide ? bodyHeight : Math.max(3, Math.floor(bodyHeight / 3));
  const detailWidth = wide ? columns - listWidth : columns;
  const detailHeight = wide ? bodyHeight : bodyHeight - listHeight;
  session.pageSize = listHeight;

  const total = session.total;
  const selected = session.selected;
  const mode = session.mode;
  const similar = selected ? resolveSimilar(selected, (id) => session.item(id), props.seedInstruction) : null;

  let side;
  if (mode.kind === 'edit') side = <EditForm mode={mode} width={wide ? detailWidth : columns} height={wide ? detailHeight : bodyHeight} />;
  else if (mode.kind === 'filter') side = <FilterDialog mode={mode} width={detailWidth} />;
  else if (mode.kind === 'export') side = <ExportDialog mode={mode} width={detailWidth} />;
  else side = <DetailPane item={selected} similar={similar} width={detailWidth} height={detailHeight} divider={wide} />;

  let body;
  if (clusterRef.current) body = <ClusterView cluster={clusterRef.current} width={columns} height={bodyHeight} />;
  else if (treeRef.current) body = <LineageView tree={treeRef.current} width={columns} height={bodyHeight} />;
  else if (mode.kind === 'help') body = <HelpOverlay scope="review" title="review keys" width={columns} height={bodyHeight} />;
  else if (mode.kind === 'edit' && !wide) body = side;
  else
    body = (
      <Box flexDirection={wide ? 'row' : 'column'}>
        <ItemList window={session.window(listTop(session.cursor, listHeight, total), listHeight)} cursor={session.cursor} width={listWidth} height={listHeight} />
        {side}
      </Box>
    );

  const c = session.counts;
  const reviewedInView = session.decidedInView;
  const pct = total ? Math.round((100 * reviewedInView) / total) : 0;
  const statusParts = Object.entries(c.byStatus).map(([s, n]) => `${s} ${n}`);
  return (
    <Box flexDirection="column" width={columns} height={height}>
      <Text wrap="truncate-end">
        <Text bold color={tone('accent')}>
          review
        </Text>{' '}
        {props.runName} · {c.total} items · sort {sortLabels[session.sort.key]} {session.sort.descending ? '↓' : '↑'}
        {isFilterEmpty(session.filter) ? '' : ` · filter ${describeFilter(session.filter)}`}
        {session.search ? ` · search "${session.search}"` : ''}
      </Text>
      <Box height={bodyHeight} flexDirection="column" overflow="hidden">
        {body}
      </Box>
      <Text wrap="truncate-end">
        <Text color={tone('good')}>✓ {c.byReview.accepted}</Text> <Text color={tone('bad')}>✗ {c.byReview.rejected}</Text>{' '}
        <Text color={tone('warn')}>» {c.byReview.skipped}</Text> · {c.byReview.pending} pending │ reviewed {reviewedInView}/{total} ({pct}%) ·{' '}
        {total ? session.cursor + 1 : 0} of {total} │ {statusParts.join(' · ')}
      </Text>
      {mode.kind === 'search' ? (
        <Box>
          <Text color={tone('accent')}>/</Text>
          <TextField state={mode.field} focused />
          <Text color={tone('muted')}> enter keep · esc cancel</Text>
        </Box>
      ) : session.message ? (
        <Text wrap="truncate-end" color={tone(session.message.tone)}>
          {session.message.text}
        </Text>
      ) : (
        <Text wrap="truncate-end" color={tone('muted')}>
          {hintLine('review', ['accept', 'reject', 'skip', 'edit', 'undo', 'search', 'filter', 'sort', 'export', 'help', 'quit'])}
        </Text>
      )}
    </Box>
  );
}

function describeFilter(f: ReviewFilter): string {
  const parts: string[] = [];
  if (f.status !== null) parts.push(`status=${f.status}`);
  if (f.review !== null) parts.push(`review=${f.review}`);
  if (f.reason !== null) parts.push(`reason=${f.reason}`);
  if (f.minScore !== null || f.maxScore !== null) parts.push(`judge ${f.minScore ?? '−∞'}..${f.maxScore ?? '∞'}`);
  return parts.join(' ');
}
