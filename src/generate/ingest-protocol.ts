import type { ForgeConfig } from '../config/schema.js';
import type { RequestResult, RequestTarget } from '../store/run-store.js';
import type { SamplePreview } from '../events.js';
import type { TemplateFormat } from './prompt-template.js';
import type { Lang } from '../data/sample.js';
import type { SerializedError } from '../errors.js';
import type { MethodItem } from './methods/method.js';

export const SAMPLE_BACK = 3;

export interface IngestInit {
  runDir: string;
  config: ForgeConfig;
  lang: Lang;
  target: number;
  /** Seeds: every new item is compared with them (the run's kept items are read from the store by the worker). */
  seeds: Array<{ id: string; instruction: string; input: string }>;
}

export type ToIngest =
  | { type: 'begin'; requestId: number; provenance: unknown; target?: RequestTarget }
  | { type: 'fail'; requestId: number; error: string; abandoned?: boolean }
  /** The endpoint (base URL) and model a request was sent to. */
  | { type: 'endpoint'; requestId: number; endpoint: string; model: string }
  /** The raw answer only: the writer parses it, so the tasks cross the thread boundary once, as one string. */
  | { type: 'complete'; requestId: number; result: RequestResult; format: TemplateFormat; nextIndex: number }
  /**
   * An answer of a method that parses its own answers (evol, magpie): the items it made, each with its provenance and
   * the method's own drop (or null: curated here like any item). A step that leads to another request has none.
   */
  | { type: 'complete-items'; requestId: number; result: RequestResult; items: MethodItem[] }
  /**
   * An answer whose job goes on (Magpie's instruction, its response still to ask), with the item it will make: when
   * the run's dedup already holds that item's instruction, it is committed now as that duplicate ('completed' then
   * has `settled`), else the answer is committed with no item.
   */
  | { type: 'precheck-item'; requestId: number; result: RequestResult; item: MethodItem }
  | { type: 'meta'; key: string; value: string }
  | { type: 'flush' };

export type FromIngest =
  | { type: 'ready'; kept: number }
  | {
      type: 'completed';
      requestId: number;
      /** Kept samples in the run after this response. */
      kept: number;
      /** How many tasks the answer held (parsed, before curation). */
      tasks: number;
      /** How many of them were kept. */
      keptNow: number;
      /**
       * Up to `SAMPLE_BACK` of the kept tasks, for the example pool and the "latest" preview: sending every kept
       * text back cost more than curating it.
       */
      keptSamples: SamplePreview[];
      rejections: Record<string, number>;
      /** For 'complete-items': each item's id and whether it was kept, in the order sent. */
      verdicts?: Array<{ id: number; kept: boolean }>;
      /** For 'precheck-item': the item was a duplicate and is committed; its job ends here. */
      settled?: boolean;
    }
  | { type: 'flushed' }
  /** Serialised so that a StoreError/DataError keeps its class, exit code and hint on the main thread. */
  | { type: 'error'; error: SerializedError };
