import type { Key } from 'ink';
import type { ReviewStore, StoredItem } from '../../review/run-access.js';
import { commandFor, keyNames } from '../keys.js';
import type { Tone } from '../theme.js';

/** One member of a duplicate cluster as the view lists it. */
export interface ClusterMember {
  item: StoredItem;
  /** Similarity to the item curation kept (ROUGE-L F1, Jaccard or cosine), null for that item itself. */
  similarity: number | null;
  /** 'duplicate:minhash'… as curation recorded it, or null for the item kept. */
  reason: string | null;
}

/** Duplicates a cluster view loads at most: a runaway run can pile up thousands on one item. */
export const CLUSTER_LIMIT = 1000;

/**
 * The duplicate cluster of an item: the item curation kept and every item it removed as a duplicate of that one
 * (any method), for the review screen's cluster view. Every action is a review decision written through the store
 * (so `u` undoes it, one decision at a time, and `curate` never overrides it):
 * - swap: the selected duplicate is accepted and the survivor rejected, so the duplicate becomes the copy used;
 * - restore: the selected duplicate is accepted too (it was not a duplicate after all);
 * - confirm: the survivor is accepted and every duplicate still undecided rejected.
 * The cluster is read from the store by the item it duplicates (an index range), never by listing the run.
 */
export class ClusterSession {
  survivorId: number;
  members: ClusterMember[] = [];
  cursor = 0;
  closed = false;
  message: { text: string; tone: Tone } | null = null;

  constructor(
    private readonly store: ReviewStore,
    /** Told of every item a key changed, as it was and as it is now, so the list behind can follow. */
    private readonly onChange: (before: StoredItem, after: StoredItem) => void,
    from: StoredItem,
  ) {
    const kept = from.status === 'duplicate' && from.duplicateOf !== null && /^\d+$/.test(from.duplicateOf) ? store.getItem(Number(from.duplicateOf)) : undefined;
    const root = kept ?? from;
    this.survivorId = root.id;
    this.members = [
      { item: root, similarity: null, reason: null },
      ...store.duplicatesOf(root.id, CLUSTER_LIMIT).map((i) => ({ item: i, similarity: i.similarity, reason: i.reason })),
    ];
    if (this.members.length === 1) {
      this.message = from.duplicateOf?.startsWith('seed:')
        ? { text: `#${from.id} duplicates seed task ${from.duplicateOf.slice(5)}, not an item of the run`, tone: 'muted' }
        : { text: `#${root.id} has no duplicates`, tone: 'muted' };
    } else if (this.members.length > CLUSTER_LIMIT && store.countDuplicatesOf(root.id) > CLUSTER_LIMIT) {
      const all = store.countDuplicatesOf(root.id);
      this.message = { text: `showing the first ${CLUSTER_LIMIT} of ${all} duplicates of #${root.id}; confirm decides those shown`, tone: 'warn' };
    }
  }

  get survivor(): ClusterMember {
    return this.members.find((m) => m.item.id === this.survivorId)!;
  }

  /** The members other than the survivor, in the order shown. */
  get duplicates(): ClusterMember[] {
    return this.members.filter((m) => m.item.id !== this.survivorId);
  }

  get selected(): ClusterMember | undefined {
    return this.duplicates[this.cursor];
  }

  handleInput(input: string, key: Key): boolean {
    for (const name of keyNames(input, key)) {
      const cmd = commandFor('cluster', name);
      if (!cmd) continue;
      this.message = null;
      const n = this.duplicates.length;
      if (cmd === 'down') this.cursor = Math.min(Math.max(0, n - 1), this.cursor + 1);
      else if (cmd === 'up') this.cursor = Math.max(0, this.cursor - 1);
      else if (cmd === 'swap') this.swap();
      else if (cmd === 'restore') this.restore();
      else if (cmd === 'confirm') this.confirm();
      else if (cmd === 'undo') this.undo();
      else if (cmd === 'back') this.closed = true;
    }
    return true;
  }

  swap(): void {
    const dup = this.selected;
    if (!dup) return this.note('no duplicate to swap in', 'warn');
    const old = this.survivor;
    this.decide(dup.item.id, 'accepted');
    this.decide(old.item.id, 'rejected');
    this.survivorId = dup.item.id;
    this.note(`#${dup.item.id} is now the survivor; #${old.item.id} rejected`, 'info');
  }

  restore(): void {
    const dup = this.selected;
    if (!dup) return this.note('no duplicate to restore', 'warn');
    this.decide(dup.item.id, 'accepted');
    this.note(`#${dup.item.id} restored (accepted)`, 'good');
  }

  confirm(): void {
    this.decide(this.survivorId, 'accepted');
    let rejected = 0;
    for (const d of this.duplicates) {
      if (d.item.review !== null) continue;
      this.decide(d.item.id, 'rejected');
      rejected++;
    }
    this.note(`confirmed: #${this.survivorId} accepted, ${rejected} duplicate${rejected === 1 ? '' : 's'} rejected`, 'good');
  }

  undo(): void {
    const undone = this.store.undoLast();
    if (!undone) return this.note('nothing left to undo', 'warn');
    const { item } = undone;
    this.refresh(undone.was, item);
    this.note(`undid #${item.id}: now ${item.review ?? 'pending'}`, 'info');
  }

  private decide(id: number, decision: 'accepted' | 'rejected'): void {
    const before = this.members.find((x) => x.item.id === id)?.item ?? this.store.getItem(id);
    const after = this.store.setReview(id, decision);
    if (before) this.refresh(before, after);
  }

  private refresh(before: StoredItem, after: StoredItem): void {
    const m = this.members.find((x) => x.item.id === after.id);
    if (m) m.item = after;
    this.onChange(before, after);
  }

  private note(text: string, tone: Tone): void {
    this.message = { text, tone };
  }
}
