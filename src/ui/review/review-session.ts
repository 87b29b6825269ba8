import { join } from 'node:path';
import type { Key } from 'ink';
import { writeSamples, type ExportFormat } from '../../data/alpaca-file.js';
import type { Sample } from '../../data/sample.js';
import type { ItemViewQuery, ReviewDecision, ReviewStore, StoredItem } from '../../review/run-access.js';
import { commandFor, keyNames } from '../keys.js';
import { applyTextKey, textEdit, type TextEdit } from '../text-edit.js';
import type { Tone } from '../theme.js';
import { emptyFilter, isFilterEmpty, nextSort, type ReviewCounts, type ReviewFilter, type ReviewSort } from './review-view.js';
import { cycle, exportFormats, exportRows, exportSets, extensionOf, filterRows, parseBound, reviewChoices, statusChoices, type ReviewMode } from './review-modes.js';
import { ViewCache, type ViewWindow } from './view-cache.js';

export type { ViewWindow } from './view-cache.js';

export interface ReviewSessionOptions {
  /** Opens the texts in $EDITOR and returns the edited texts, or null when nothing changed or it failed. */
  openEditor?: (text: Sample) => Sample | null;
}

/**
 * The review screen's state and every action a key can trigger. Kept outside React so one input event carrying
 * several keys ("ax") applies them in order against the latest state, and so the logic is testable without ink.
 * The list is read from the store a window at a time (filter, search and sort are queries), so a run of a million
 * items opens as fast as a small one and memory holds a few hundred rows.
 */
export class ReviewSession {
  filter: ReviewFilter = emptyFilter;
  sort: ReviewSort = { key: 'id', descending: false };
  search = '';
  cursor = 0;
  mode: ReviewMode = { kind: 'list' };
  message: { text: string; tone: Tone } | null = null;
  quit = false;
  /** Rows the list shows at once; the screen sets it on every render so page keys move by a screenful. */
  pageSize = 10;

  private readonly store: ReviewStore;
  private readonly opts: ReviewSessionOptions;
  private readonly cache: ViewCache;

  constructor(store: ReviewStore, opts: ReviewSessionOptions = {}) {
    this.store = store;
    this.opts = opts;
    this.cache = new ViewCache(store);
  }

  /** The query the list shows now (the search field's text while it is being typed). */
  private get query(): ItemViewQuery {
    const search = this.mode.kind === 'search' ? this.mode.field.value : this.search;
    return { ...this.filter, search, sort: this.sort };
  }

  /** Items the view lists. */
  get total(): number {
    return this.cache.sizesOf(this.query).total;
  }

  /** Items of the view already decided (for "reviewed N/M"). */
  get decidedInView(): number {
    return this.cache.sizesOf(this.query).decided;
  }

  /** The rows from `first` (at least `count` of them, when the view has them), fetched from the store when not held. */
  window(first: number, count: number): ViewWindow {
    return this.cache.window(this.query, first, count);
  }

  get selected(): StoredItem | undefined {
    return this.total === 0 ? undefined : this.window(this.cursor, 1).rows[0];
  }

  get counts(): ReviewCounts {
    return this.cache.counts();
  }

  item(id: number): StoredItem | undefined {
    return this.store.getItem(id);
  }

  /** Where an item stands in the view now, or -1 when the view leaves it out. */
  private positionOf(id: number): number {
    return this.cache.position(this.query, id);
  }

  /** Handles one ink input event; returns true when something changed and the screen should redraw. */
  handleInput(input: string, key: Key): boolean {
    if (this.mode.kind === 'search' || this.mode.kind === 'edit' || this.mode.kind === 'filter' || this.mode.kind === 'export') {
      // A text field has focus: the whole chunk goes to it (pasted text stays one insert).
      this.handleFormKey(input, key);
      return true;
    }
    for (const name of keyNames(input, key)) {
      if (this.quit) break;
      this.handleCommandKey(name);
    }
    return true;
  }

  // ---- list mode ----
  private handleCommandKey(name: string): void {
    if (this.mode.kind === 'help') {
      if (commandFor('overlay', name) === 'close') this.mode = { kind: 'list' };
      return;
    }
    if (this.mode.kind !== 'list') return;
    const cmd = commandFor('review', name);
    if (cmd === undefined) return;
    this.message = null;
    const last = Math.max(0, this.total - 1);
    switch (cmd) {
      case 'down':
        this.cursor = Math.min(this.cursor + 1, last);
        return;
      case 'up':
        this.cursor = Math.max(this.cursor - 1, 0);
        return;
      case 'pageDown':
        this.cursor = Math.min(this.cursor + Math.max(1, this.pageSize - 1), last);
        return;
      case 'pageUp':
        this.cursor = Math.max(this.cursor - Math.max(1, this.pageSize - 1), 0);
        return;
      case 'top':
        this.cursor = 0;
        return;
      case 'bottom':
        this.cursor = last;
        return;
      case 'accept':
        return this.decide('accepted');
      case 'reject':
        return this.decide('rejected');
      case 'skip':
        return this.decide('skipped');
      case 'clear':
        return this.decide(null);
      case 'undo':
        return this.undo();
      case 'edit':
        return this.startEdit();
      case 'editExternal':
        return this.editExternal();
      case 'search':
        this.mode = { kind: 'search', field: textEdit(this.search), before: this.search };
        return;
      case 'filter':
        this.mode = {
          kind: 'filter',
          focus: 0,
          reasons: this.store.reasons(),
          draft: {
            status: this.filter.status,
            review: this.filter.review,
            reason: this.filter.reason,
            minScore: textEdit(this.filter.minScore === null ? '' : String(this.filter.minScore)),
            maxScore: textEdit(this.filter.maxScore === null ? '' : String(this.filter.maxScore)),
          },
        };
        return;
      case 'clearFilter':
        this.keepSelection(() => {
          this.filter = emptyFilter;
          this.search = '';
        });
        this.note('filter and search cleared', 'info');
        return;
      case 'sort':
        this.keepSelection(() => (this.sort = nextSort(this.sort)));
        return;
      case 'reverseSort':
        this.keepSelection(() => (this.sort = { ...this.sort, descending: !this.sort.descending }));
        return;
      case 'export': {
        const format: ExportFormat = 'alpaca';
        this.mode = { kind: 'export', set: 'accepted', format, path: textEdit(join(this.store.dir, `accepted${extensionOf(format)}`)), focus: 0 };
        return;
      }
      case 'help':
        this.mode = { kind: 'help' };
        return;
      case 'quit':
        this.quit = true;
        return;
    }
  }

  decide(decision: ReviewDecision | null): void {
    const item = this.selected;
    if (!item) return this.note('nothing to decide: the list is empty', 'warn');
    const was = this.cursor;
    const after = this.store.setReview(item.id, decision);
    this.cache.itemChanged(this.query, item, after, false);
    // To the next item when the decided one is still listed (a decision changes no sort key, so it is where it
    // was), else to the item that took its place (a "pending" filter drops decided items out of the list).
    const last = Math.max(0, this.total - 1);
    const listed = this.positionOf(item.id) !== -1;
    this.cursor = listed ? Math.min(decision !== null ? was + 1 : was, last) : Math.min(was, last);
  }

  undo(): void {
    const undone = this.store.undoLast();
    if (!undone) return this.note('nothing left to undo', 'warn');
    const { item } = undone;
    const wasEdit = undone.action === 'edit';
    this.cache.itemChanged(this.query, undone.was, item, wasEdit && this.sort.key === 'length');
    const at = this.positionOf(item.id);
    if (at !== -1) this.cursor = at;
    this.note(wasEdit ? `undid the edit of #${item.id}` : `undid #${item.id}: now ${item.review ?? 'pending'}${at === -1 ? ' (hidden by the filter)' : ''}`, 'info');
  }

  private startEdit(): void {
    const item = this.selected;
    if (!item) return this.note('nothing to edit: the list is empty', 'warn');
    this.mode = { kind: 'edit', id: item.id, focus: 0, fields: [textEdit(item.instruction, 0), textEdit(item.input, 0), textEdit(item.output, 0)] };
  }

  private editExternal(): void {
    const item = this.selected;
    if (!item) return this.note('nothing to edit: the list is empty', 'warn');
    if (!this.opts.openEditor) return this.note('no $EDITOR here: press e to edit in place', 'warn');
    const edited = this.opts.openEditor({ instruction: item.instruction, input: item.input, output: item.output });
    if (edited === null) return this.note(`#${item.id}: no change applied (editor quit without saving, failed, or a ### line was removed)`, 'muted');
    this.saveText(item.id, edited);
  }

  private saveText(id: number, text: Sample): void {
    const current = this.store.getItem(id);
    if (current && current.instruction === text.instruction && current.input === text.input && current.output === text.output) {
      return this.note(`#${id} unchanged`, 'muted');
    }
    if (text.instruction.trim() === '' || text.output.trim() === '') return this.note('instruction and output cannot be empty', 'bad');
    const after = this.store.editItem(id, text);
    // An edit changes the item's length, so under the length sort it may move.
    if (current) this.cache.itemChanged(this.query, current, after, this.sort.key === 'length');
    else this.cache.reset();
    this.note(`#${id} edited (the original is kept; u undoes)`, 'good');
  }

  // ---- text fields ----
  private handleFormKey(input: string, key: Key): void {
    const mode = this.mode;
    if (mode.kind === 'search') {
      const next = applyTextKey(mode.field, input, key, false);
      if (next) {
        this.mode = { ...mode, field: next };
        this.cursor = 0;
        return;
      }
      const cmd = commandFor('lineText', keyNames(input, key)[0] ?? '');
      if (cmd === 'submit') {
        this.keepSelection(() => {
          this.search = mode.field.value.trim();
          this.mode = { kind: 'list' };
        });
        if (this.search !== '') this.note(`${this.total} match${this.total === 1 ? '' : 'es'} for "${this.search}"`, 'info');
      } else if (cmd === 'cancel') {
        this.keepSelection(() => {
          this.search = mode.before;
          this.mode = { kind: 'list' };
        });
      }
      return;
    }
    if (mode.kind === 'edit') {
      const field = mode.fields[mode.focus]!;
      const next = applyTextKey(field, input, key, true);
      if (next) {
        const fields = [...mode.fields] as [TextEdit, TextEdit, TextEdit];
        fields[mode.focus] = next;
        this.mode = { ...mode, fields };
        return;
      }
      const cmd = commandFor('formText', keyNames(input, key)[0] ?? '');
      if (cmd === 'nextField' || cmd === 'prevField') this.mode = { ...mode, focus: (mode.focus + (cmd === 'nextField' ? 1 : 2)) % 3 };
      else if (cmd === 'cancel') {
        this.mode = { kind: 'list' };
        this.note('edit cancelled', 'muted');
      } else if (cmd === 'save') {
        const [instruction, inp, output] = mode.fields;
        this.mode = { kind: 'list' };
        this.keepSelection(() => this.saveText(mode.id, { instruction: instruction.value, input: inp.value, output: output.value }));
      }
      return;
    }
    if (mode.kind === 'filter') return this.handleFilterKey(mode, input, key);
    if (mode.kind === 'export') return this.handleExportKey(mode, input, key);
  }

  private handleFilterKey(mode: Extract<ReviewMode, { kind: 'filter' }>, input: string, key: Key): void {
    const row = filterRows[mode.focus]!;
    const name = keyNames(input, key)[0] ?? '';
    if (row === 'minScore' || row === 'maxScore') {
      const next = applyTextKey(mode.draft[row], input, key, false);
      if (next) {
        this.mode = { ...mode, draft: { ...mode.draft, [row]: next } };
        return;
      }
    } else if (name === 'left' || name === 'right') {
      const step = name === 'right' ? 1 : -1;
      const draft = { ...mode.draft };
      if (row === 'status') draft.status = cycle(statusChoices, draft.status, step);
      if (row === 'review') draft.review = cycle(reviewChoices, draft.review, step);
      if (row === 'reason') draft.reason = cycle([null, ...mode.reasons], draft.reason, step);
      this.mode = { ...mode, draft };
      return;
    }
    const cmd = commandFor('formText', name);
    if (cmd === 'nextField' || cmd === 'prevField') {
      this.mode = { ...mode, focus: (mode.focus + (cmd === 'nextField' ? 1 : filterRows.length - 1)) % filterRows.length };
    } else if (cmd === 'cancel') {
      this.mode = { kind: 'list' };
    } else if (cmd === 'save' || cmd === 'submit') {
      const min = parseBound(mode.draft.minScore.value);
      const max = parseBound(mode.draft.maxScore.value);
      if (Number.isNaN(min) || Number.isNaN(max)) return this.note('judge score bounds must be numbers (or empty)', 'bad');
      const filter: ReviewFilter = { status: mode.draft.status, review: mode.draft.review, reason: mode.draft.reason, minScore: min, maxScore: max };
      this.keepSelection(() => {
        this.filter = filter;
        this.mode = { kind: 'list' };
      });
      this.note(isFilterEmpty(filter) ? 'no filter' : `${this.total} item${this.total === 1 ? '' : 's'} match the filter`, 'info');
    }
  }

  private handleExportKey(mode: Extract<ReviewMode, { kind: 'export' }>, input: string, key: Key): void {
    const row = exportRows[mode.focus]!;
    const name = keyNames(input, key)[0] ?? '';
    if (row === 'path') {
      const next = applyTextKey(mode.path, input, key, false);
      if (next) {
        this.mode = { ...mode, path: next };
        return;
      }
    } else if (name === 'left' || name === 'right') {
      const step = name === 'right' ? 1 : -1;
      if (row === 'set') this.mode = { ...mode, set: cycle(exportSets, mode.set, step) };
      else {
        const format = cycle(exportFormats, mode.format, step);
        // Follow the format with the file extension while the path is still one we proposed.
        const path = mode.path.value.replace(/\.jsonl?$/, extensionOf(format));
        this.mode = { ...mode, format, path: textEdit(path) };
      }
      return;
    }
    const cmd = commandFor('formText', name);
    if (cmd === 'nextField' || cmd === 'prevField') {
      this.mode = { ...mode, focus: (mode.focus + (cmd === 'nextField' ? 1 : exportRows.length - 1)) % exportRows.length };
    } else if (cmd === 'cancel') {
      this.mode = { kind: 'list' };
    } else if (cmd === 'save' || cmd === 'submit') {
      const path = mode.path.value.trim();
      if (path === '') return this.note('give a file to export to', 'bad');
      const items = mode.set === 'accepted' ? this.store.listItems({ review: ['accepted'] }) : this.store.usableItems();
      try {
        this.store.assertNotRunFile({ path, label: 'export' });
        writeSamples(path, items.map((i) => ({ instruction: i.instruction, input: i.input, output: i.output })), mode.format);
      } catch (e) {
        return this.note(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'bad');
      }
      this.mode = { kind: 'list' };
      this.note(`exported ${items.length} ${mode.set} sample${items.length === 1 ? '' : 's'} to ${path} (${mode.format})`, 'good');
    }
  }

  // ---- helpers ----
  private note(text: string, tone: Tone): void {
    this.message = { text, tone };
  }

  /** An item changed outside this session (a decision made in the cluster view): the list follows it. */
  changedElsewhere(before: StoredItem, after: StoredItem): void {
    this.cache.itemChanged(this.query, before, after, false);
  }

  /** Changes the view and keeps the cursor on the same item when it is still listed. */
  private keepSelection(change: () => void): void {
    const id = this.selected?.id;
    change();
    const at = id === undefined ? -1 : this.positionOf(id);
    this.cursor = at === -1 ? Math.min(this.cursor, Math.max(0, this.total - 1)) : at;
  }
}
