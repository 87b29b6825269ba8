/**
 * AdamW (Loshchilov & Hutter) as torch.optim.AdamW computes it: weight decay is applied to the parameter directly
 * (p -= lr·wd·p), not folded into the gradient, then the bias-corrected Adam update. tfjs ships only Adam with
 * coupled L2, so this runs on plain Float32Arrays: the LoRA parameters are small, the arithmetic is exact and
 * backend-independent, and the state serialises into a checkpoint as-is. The i-th state slot belongs to the i-th
 * parameter, so callers must always pass parameters in the same order.
 */
export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private state: AdamWState;

  constructor(paramSizes: number[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.state = { step: 0, m: paramSizes.map((n) => new Float32Array(n)), v: paramSizes.map((n) => new Float32Array(n)) };
  }

  get stepCount(): number {
    return this.state.step;
  }

  /** One update of `params` in place with gradients `grads` (same order and sizes as the constructor's). */
  step(params: Float32Array[], grads: Float32Array[], lr: number): void {
    const { m, v } = this.state;
    if (params.length !== m.length || grads.length !== m.length) {
      throw new TypeError(`AdamW.step: expected ${m.length} parameters and gradients, got ${params.length} and ${grads.length}`);
    }
    this.state.step += 1;
    const t = this.state.step;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const stepSize = lr / bc1;
    const decay = 1 - lr * this.weightDecay;
    for (let k = 0; k < params.length; k++) {
      const p = params[k] as Float32Array;
      const g = grads[k] as Float32Array;
      const mk = m[k] as Float32Array;
      const vk = v[k] as Float32Array;
      if (p.length !== mk.length || g.length !== mk.length) {
        throw new TypeError(`AdamW.step: parameter ${k} has ${p.length} values and gradient ${g.length}, expected ${mk.length}`);
      }
      for (let i = 0; i < p.length; i++) {
        const gi = g[i] as number;
        const mi = b1 * (mk[i] as number) + (1 - b1) * gi;
        const vi = b2 * (vk[i] as number) + (1 - b2) * gi * gi;
        mk[i] = mi;
        vk[i] = vi;
        // torch: denom = sqrt(v)/sqrt(1-b2^t) + eps; p -= lr/(1-b1^t) · m/denom
        p[i] = (p[i] as number) * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + this.eps);
      }
    }
  }

  getState(): AdamWState {
    return this.state;
  }

  setState(state: AdamWState): void {
    const sizes = this.state.m.map((x) => x.length);
    if (state.m.length !== sizes.length || state.v.length !== sizes.length || state.m.some((x, i) => x.length !== sizes[i]) || state.v.some((x, i) => x.length !== sizes[i])) {
      throw new TypeError('AdamW.setState: optimizer state does not match the parameter list');
    }
    this.state = { step: state.step, m: state.m, v: state.v };
  }
}
