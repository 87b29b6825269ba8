import type { Prices } from '../config/generation.js';

/**
 * What a call cost at the configured prices (USD per million tokens); 0 for a model with no price. Through the
 * Batch API the batch prices apply where configured, else the normal ones (see `hasBatchPrices`).
 */
export function costOf(prices: Prices | undefined, model: string, promptTokens: number, completionTokens: number, via: 'chat' | 'batch' = 'chat'): number {
  const p = prices?.[model];
  if (!p) return 0;
  const input = via === 'batch' ? (p.batchInput ?? p.input) : p.input;
  const output = via === 'batch' ? (p.batchOutput ?? p.output) : p.output;
  return (promptTokens * input + completionTokens * output) / 1e6;
}

/**
 * The most a request can cost: its prompt at about 2 characters per token (CJK is denser than English, so this
 * overestimates English) and every one of `maxTokens` used. The one estimate every reservation uses.
 */
export function worstCaseUsd(prices: Prices | undefined, model: string, messages: ReadonlyArray<{ content: string }>, maxTokens: number, via: 'chat' | 'batch' = 'chat'): number {
  let chars = 0;
  for (const m of messages) chars += m.content.length;
  return costOf(prices, model, Math.ceil(chars / 2), maxTokens, via);
}

/** Whether the model has both batch prices; without them a batch is counted at the normal price. */
export function hasBatchPrices(prices: Prices | undefined, model: string): boolean {
  const p = prices?.[model];
  return p?.batchInput !== undefined && p.batchOutput !== undefined;
}

/**
 * Spending guard. Before a request starts it reserves its worst case (prompt estimate + max_tokens at the output
 * price); when it ends the reservation is replaced by the real cost. So the run stops *before* it could exceed.
 */
export class BudgetTracker {
  private spent: number;
  private reserved = 0;
  constructor(
    readonly limitUsd: number | undefined,
    spentUsd: number,
  ) {
    this.spent = spentUsd;
  }
  get spentUsd(): number {
    return this.spent;
  }
  wouldExceed(nextEstimateUsd: number): boolean {
    return this.limitUsd !== undefined && this.spent + this.reserved + nextEstimateUsd > this.limitUsd;
  }
  reserve(usd: number): void {
    this.reserved += usd;
  }
  settle(reservedUsd: number, actualUsd: number): void {
    this.reserved -= reservedUsd;
    this.spent += actualUsd;
  }
  add(costUsd: number): void {
    this.spent += costUsd;
  }
}
