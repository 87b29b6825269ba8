import type { AdamW } from './adamw.js';
import { clipGlobalNorm } from './clip.js';

/**
 * The update of a method that computes its gradients on the host (DPO, RM): clip to the global norm, then AdamW.
 * Returns the norm before clipping. Methods check their loss is finite first, so a diverged step changes nothing.
 */
export function hostUpdate(params: Float32Array[], grads: Float32Array[], opt: AdamW, maxGradNorm: number, lr: number): number {
  const gradNorm = clipGlobalNorm(grads, maxGradNorm);
  opt.step(params, grads, lr);
  return gradNorm;
}
