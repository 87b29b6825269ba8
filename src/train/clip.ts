/**
 * Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): one L2 norm over every gradient together, and
 * if it exceeds maxNorm all gradients are scaled by maxNorm / (norm + 1e-6). tfjs has no such function.
 * Returns the norm before clipping (what training logs show as grad_norm).
 */
export function clipGlobalNorm(grads: Float32Array[], maxNorm: number): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += (g[i] as number) * (g[i] as number);
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && Number.isFinite(norm)) {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = (g[i] as number) * coef;
  }
  return norm;
}
