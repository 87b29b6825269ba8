import type { Key } from 'ink';
import type { ItemProvenanceRow, ProvenanceAccess, ReviewStore, StoredItem } from '../../review/run-access.js';
import { commandFor, keyNames } from '../keys.js';
import type { Tone } from '../theme.js';

/** Children the tree shows at most under one item (a breadth operator can fan out widely). */
export const CHILDREN_LIMIT = 200;

/** One step of the tree: where the item came from, and the item itself (undefined if it is no longer in the run). */
export interface LineageStep {
  prov: ItemProvenanceRow;
  item: StoredItem | undefined;
}

/** A run without provenance (made before it was recorded, or opened without it): every item is its own root. */
export const noProvenance: ProvenanceAccess = { lineage: () => [], children: () => [] };

/**
 * The evolution tree of one item (Evol-Instruct: parent, root, operator, round), for the review screen's tree
 * view: the chain from the root seed to the item, then the items evolved from it. The cursor runs over both;
 * opening a step centres the tree on it, so a reviewer walks the tree one generation at a time. Reads a chain and
 * one level of children from the store (indexed by parent), never the run.
 */
export class LineageSession {
  focusId: number;
  chain: LineageStep[] = [];
  children: LineageStep[] = [];
  cursor = 0;
  closed = false;
  message: { text: string; tone: Tone } | null = null;

  constructor(
    private readonly store: Pick<ReviewStore, 'getItem'>,
    private readonly provenance: ProvenanceAccess,
    from: StoredItem,
  ) {
    this.focusId = from.id;
    this.focus(from.id);
  }

  /** The steps in the order shown: the chain (root first), then the children. */
  get steps(): LineageStep[] {
    return [...this.chain, ...this.children];
  }

  get selected(): LineageStep | undefined {
    return this.steps[this.cursor];
  }

  /** Rounds from the root to the focused item. */
  get depth(): number {
    return Math.max(0, this.chain.length - 1);
  }

  handleInput(input: string, key: Key): boolean {
    for (const name of keyNames(input, key)) {
      const cmd = commandFor('tree', name);
      if (!cmd) continue;
      this.message = null;
      const last = Math.max(0, this.steps.length - 1);
      if (cmd === 'down') this.cursor = Math.min(last, this.cursor + 1);
      else if (cmd === 'up') this.cursor = Math.max(0, this.cursor - 1);
      else if (cmd === 'open') {
        const id = this.selected?.prov.itemId;
        if (id !== undefined && id !== this.focusId) this.focus(id);
      } else if (cmd === 'parent') {
        const parent = this.chain[this.chain.length - 2];
        if (parent) this.focus(parent.prov.itemId);
        else this.note(`#${this.focusId} is the root`, 'muted');
      } else if (cmd === 'back') this.closed = true;
    }
    return true;
  }

  private focus(id: number): void {
    const step = (prov: ItemProvenanceRow): LineageStep => ({ prov, item: this.store.getItem(prov.itemId) });
    // A root evolved from the run's own items (--from-run) is a self-instruct item: it has no provenance row.
    const unrecorded = (itemId: number): ItemProvenanceRow => ({ itemId, method: 'self-instruct', parentId: null, rootId: itemId, operator: null, round: 0 });
    this.focusId = id;
    const chain = this.provenance.lineage(id);
    const first = chain[0];
    if (first && first.parentId !== null) chain.unshift(unrecorded(first.parentId));
    this.children = this.provenance.children(id, CHILDREN_LIMIT + 1).map(step);
    if (chain.length === 0 && this.children.length > 0) chain.push(unrecorded(id));
    this.chain = chain.map(step);
    // The cursor on the focused item: the last step of its chain.
    this.cursor = Math.max(0, this.chain.length - 1);
    if (this.chain.length === 0) {
      this.note(`#${id} has no recorded origin: self-instruct items have none (generate --method evol or magpie records it)`, 'muted');
    } else if (this.children.length > CHILDREN_LIMIT) {
      this.children = this.children.slice(0, CHILDREN_LIMIT);
      this.note(`showing the first ${CHILDREN_LIMIT} items evolved from #${id}`, 'warn');
    }
  }

  private note(text: string, tone: Tone): void {
    this.message = { text, tone };
  }
}

/** "deepen · round 2", "seed", "magpie": how a step was made. */
export function stepLabel(p: ItemProvenanceRow): string {
  if (p.method === 'source') return 'seed';
  if (p.method !== 'evol') return p.method;
  return `${p.operator ?? 'evol'} · round ${p.round ?? '?'}`;
}
