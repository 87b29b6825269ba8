import type { LabelledBatch } from '../../model/loss.js';
import type { BackendName } from '../../model/backend.js';
import type { MicroBatch } from './gradients.js';
import type { LoraSpec } from '../adapters/lora-weights.js';
import type { TargetModuleName } from '../../config/train.js';
import type { SerializedError } from '../../errors.js';
import type { BaseWeights } from '../../model/base-weights.js';

/** What a training worker thread is started with. */
export interface WorkerInit {
  modelDir: string;
  backend: BackendName | undefined;
  spec: LoraSpec;
  entries: Array<{ layer: number; module: TargetModuleName; inFeatures: number; outFeatures: number }>;
  /** padded tokens per forward/backward pass (micro-batches above it run as several passes) */
  maxPassTokens: number;
  /** loadModel's options (defaults: f32, no checkpointing) */
  baseWeights?: BaseWeights;
  gradientCheckpointing?: boolean;
}

export type ToWorker =
  | { kind: 'params'; params: Float32Array[] }
  | { kind: 'grads'; id: number; batch: MicroBatch }
  | { kind: 'eval'; id: number; batch: LabelledBatch };

export type FromWorker =
  | { kind: 'ready'; backend: string; device: string }
  | { kind: 'grads'; id: number; grads: Float32Array[]; nllSum: number }
  | { kind: 'eval'; id: number; nllSum: number }
  | { kind: 'error'; id: number | null; error: SerializedError };
