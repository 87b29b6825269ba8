import type * as tf from '@tensorflow/tfjs';
import type { ForwardAdapter } from '../../model/llama.js';

/**
 * What the gradient engines and steppers need of an adapter being trained, whatever its type (LoraRuntime,
 * PromptRuntime): its variables in the optimizer's order, the forward pass's hooks, and a way to load values.
 */
export interface AdapterRuntime {
  readonly variables: tf.Variable[];
  /** The hooks of one forward pass; `dropoutSeed` draws the training-mode dropout masks where the adapter has any. */
  hook(opts?: { dropoutSeed?: number }): ForwardAdapter;
  assign(values: readonly Float32Array[]): void;
  /** Current values read back from the backend, in variable order. */
  read(): Promise<Float32Array[]>;
  dispose(): void;
}
