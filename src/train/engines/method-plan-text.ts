import type { MethodFit, MethodPlan } from './method-plan.js';
import { formatBytes, formatCount } from './plan.js';

/** `plan --method`'s section: the passes, the memory at the peak, and the fit on each backend in question. */
export function formatMethodPlan(p: MethodPlan & { ppo?: { maxNewTokens: number; rolloutBatch: number }; fits: Array<MethodFit & { backend: string; budgetBytes: number | null; budget: string }> }): string[] {
  const extra = [
    p.extraTrainableParams ? `${formatCount(p.extraTrainableParams)} trainable beside the adapter` : '',
    p.extraFrozenParams ? `${formatCount(p.extraFrozenParams)} frozen adapter parameters beside the base` : '',
  ].filter(Boolean);
  const width = Math.max(...p.memory.map((r) => r.item.length));
  return [
    `train --method ${p.method}${p.ppo ? ` (rollouts of ${p.ppo.rolloutBatch} × ${p.ppo.maxNewTokens} new tokens)` : ''}: ${p.sequencesPerExample} sequence${p.sequencesPerExample === 1 ? '' : 's'} per example${extra.length ? `; ${extra.join(', ')}` : ''}`,
    '  passes through the model:',
    ...p.passes.map((s) => `    ${s.name}: ${s.when}; ${s.sequences} × ${s.tokens} tokens, ${s.gradients ? 'forward + backward' : 'forward only'}, activations ${formatBytes(s.activationBytes)}`),
    '  memory at the peak:',
    ...p.memory.map((r) => `    ${r.item.padEnd(width)}  ${formatBytes(r.bytes).padStart(9)}`),
    `    ${'total'.padEnd(width)}  ${formatBytes(p.totalBytes).padStart(9)}`,
    ...p.fits.map((f) => `  ${fitWords(f, p.method)} on ${f.budget}${f.budgetBytes === null ? '' : ` (${formatBytes(f.budgetBytes)})`}`),
  ];
}

function fitWords(f: MethodFit, method: string): string {
  if (f.fits === null) return 'fit unknown';
  if (f.fits) return 'fits';
  if (!f.passSequences) return 'does NOT fit, not even one sequence per pass';
  // SFT's trainer splits a micro-batch into passes that fit by itself; the others take a smaller batch.
  return method === 'sft'
    ? `fits as passes of ${f.passSequences} of the ${f.plannedSequences} sequences (the trainer splits micro-batches)`
    : `does NOT fit as planned; passes of ${f.passSequences} sequence${f.passSequences === 1 ? '' : 's'} would (lower --${method === 'ppo' ? 'micro-batch-size or --batch-size' : 'cutoff-len'})`;
}
