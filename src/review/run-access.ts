import { forgeConfigSchema, type ForgeConfig } from '../config/schema.js';
import { RunStore } from '../store/run-store.js';
import { ProvenanceStore, type ItemProvenanceRow } from '../store/provenance-store.js';
import { listRuns, type RunInfo } from './run-list.js';
import { seedLookup } from './seed-lookup.js';

// The item types the review screen shows; they come from the store's row schema, through here.
export {
  curationStatuses,
  reviewDecisions,
  viewSortKeys,
  type CurationStatus,
  type ReviewDecision,
  type SimilarRef,
  type StoredItem,
  type ItemViewQuery,
  type ReviewCounts,
  viewIncludes,
  indexedSortKeys,
} from '../store/run-store.js';
export type { ItemProvenanceRow } from '../store/provenance-store.js';
export type { RunInfo, RunState } from './run-list.js';

/** What the review screen needs of a run: reads, decisions, edits, undo. Every call writes through at once. */
export type ReviewStore = Pick<
  RunStore,
  | 'dir'
  | 'getItem'
  | 'listItems'
  | 'setReview'
  | 'editItem'
  | 'undoLast'
  | 'usableItems'
  | 'assertNotRunFile'
  | 'countView'
  | 'countDecidedInView'
  | 'viewPage'
  | 'viewOrder'
  | 'duplicatesOf'
  | 'countDuplicatesOf'
  | 'viewPosition'
  | 'reviewCounts'
  | 'reasons'
>;

/** Where items came from (generate --method evol|magpie): the review's tree view reads it. */
export interface ProvenanceAccess {
  /** The chain from the item's root to the item; empty when the item has no provenance (self-instruct). */
  lineage: (itemId: number) => ItemProvenanceRow[];
  /** Items made from the item, in arrival order; at most `limit`. */
  children: (itemId: number, limit?: number) => ItemProvenanceRow[];
}

/** One run opened for review; the screen that opened it closes it. */
export interface ReviewRun extends ReviewStore {
  provenance: ProvenanceAccess;
  /** The instruction of a seed task by id, from the seed file the run was generated with; undefined when unknown. */
  seedInstruction: (seedId: string) => string | undefined;
  close: () => void;
}

/**
 * How the terminal UI reaches runs: it never opens the store itself (ui → engine → store), so this is injected
 * like the generator and the trainer, and a test can hand the UI runs of its own.
 */
export interface RunAccess {
  /** The runs under `runsDir` (each a folder with run.db), newest first; a missing folder is an empty list. */
  list: (runsDir: string) => RunInfo[];
  /** Whether `runDir` holds a run (a new run's name must not be taken). */
  exists: (runDir: string) => boolean;
  /** Opens a run for review; throws a ForgeError that says why when it cannot. */
  openReview: (runDir: string) => ReviewRun;
  /** The settings a run was started with (its config snapshot), so a resumed run continues with them; else `fallback`. */
  resumeConfig: (runDir: string, fallback: ForgeConfig) => ForgeConfig;
}

/** Runs on disk, through the run store. */
export function storeRunAccess(): RunAccess {
  return {
    list: listRuns,
    exists: (runDir) => RunStore.exists(runDir),
    openReview: (runDir) => {
      const store = RunStore.open(runDir);
      const lookup = seedLookup(store);
      const provenance = new ProvenanceStore(store);
      return {
        dir: store.dir,
        listItems: (filter) => store.listItems(filter),
        setReview: (id, decision) => store.setReview(id, decision),
        editItem: (id, text) => store.editItem(id, text),
        getItem: (id) => store.getItem(id),
        undoLast: () => store.undoLast(),
        countView: (q) => store.countView(q),
        countDecidedInView: (q) => store.countDecidedInView(q),
        viewPage: (q, offset, limit, total) => store.viewPage(q, offset, limit, total),
        viewOrder: (q) => store.viewOrder(q),
        duplicatesOf: (id, limit) => store.duplicatesOf(id, limit),
        countDuplicatesOf: (id) => store.countDuplicatesOf(id),
        provenance: { lineage: (id) => provenance.lineage(id), children: (id, limit) => provenance.children(id, limit) },
        viewPosition: (q, id) => store.viewPosition(q, id),
        reviewCounts: () => store.reviewCounts(),
        reasons: () => store.reasons(),
        usableItems: () => store.usableItems(),
        assertNotRunFile: (output) => store.assertNotRunFile(output),
        seedInstruction: lookup,
        close: () => store.close(),
      };
    },
    resumeConfig,
  };
}

function resumeConfig(runDir: string, fallback: ForgeConfig): ForgeConfig {
  try {
    const store = RunStore.open(runDir);
    try {
      const snapshot = store.configSnapshot();
      if (snapshot === undefined) return fallback;
      const r = forgeConfigSchema.safeParse(snapshot);
      return r.success ? r.data : fallback;
    } finally {
      store.close();
    }
  } catch {
    // An unreadable run or snapshot resumes with forge.yaml's settings; generation itself then says what is wrong.
    return fallback;
  }
}
