import type { ForgeConfig } from '../config/schema.js';
import type { RequestResult } from '../store/run-store.js';
import type { DroppedTask, ParsedTask } from './parse-response.js';

export interface IngestInit {
  runDir: string;
  config: ForgeConfig;
  lang: 'en' | 'zh';
  target: number;
  /** Seeds: every new item is compared with them (the run's kept items are read from the store by the worker). */
  seeds: Array<{ id: string; instruction: string; input: string }>;
}

export type ToIngest =
  | { type: 'begin'; requestId: number; provenance: unknown }
  | { type: 'fail'; requestId: number; error: string; abandoned?: boolean }
  | { type: 'complete'; requestId: number; result: RequestResult; tasks: ParsedTask[]; dropped: DroppedTask[] }
  | { type: 'meta'; key: string; value: string }
  | { type: 'flush' };

export type FromIngest =
  | { type: 'ready'; kept: number }
  | {
      type: 'completed';
      requestId: number;
      /** Kept samples in the run after this response. */
      kept: number;
      /** [position in the sent tasks, item id] of each task kept (the main thread has the texts already). */
      keptIds: Array<[number, number]>;
      rejections: Record<string, number>;
    }
  | { type: 'flushed' }
  | { type: 'error'; message: string; stack?: string };
