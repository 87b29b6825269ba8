import { Rng, mixSeed } from './rng.js';

/**
 * The order of one epoch: steps → micro-batches → example indices. Examples are shuffled with a seed derived from
 * (seed, epoch), cut into optimizer steps of `batchSize`, and each step's examples are sorted by length before
 * being cut into micro-batches: the step sees the same random examples as without grouping (the loss is a sum over
 * the whole step, so grouping does not change it) while padding inside a micro-batch stays small.
 * Being a pure function of its arguments is what lets a resumed run see exactly the batches it would have seen.
 */
export function planEpoch(lengths: readonly number[], opts: { epoch: number; seed: number; batchSize: number; microBatchSize: number }): number[][][] {
  const { epoch, seed, batchSize, microBatchSize } = opts;
  if (!(batchSize >= 1 && microBatchSize >= 1)) throw new TypeError('planEpoch: batchSize and microBatchSize must be >= 1');
  const order = new Rng(mixSeed(seed, 0xe90c, epoch)).shuffle(lengths.map((_, i) => i));
  const steps: number[][][] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    const chunk = order.slice(s, s + batchSize);
    chunk.sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
    const micro: number[][] = [];
    for (let m = 0; m < chunk.length; m += microBatchSize) micro.push(chunk.slice(m, m + microBatchSize));
    steps.push(micro);
  }
  return steps;
}

export function stepsPerEpoch(examples: number, batchSize: number): number {
  return Math.ceil(examples / batchSize);
}

/**
 * Total optimizer steps of a run: every epoch in full, or — as Hugging Face's TrainingArguments.max_steps — exactly
 * maxSteps (> 0), which overrides epochs, fewer or more (the epochs' shuffled orders simply continue).
 */
export function totalSteps(examples: number, opts: { epochs: number; batchSize: number; maxSteps?: number | undefined }): number {
  if (opts.maxSteps !== undefined && opts.maxSteps > 0) return opts.maxSteps;
  return Math.ceil(opts.epochs * stepsPerEpoch(examples, opts.batchSize));
}

/**
 * Splits example indices into train and validation with a fixed seed, independent of the training seed's other
 * uses, so the same dataset and seed always hold out the same samples.
 */
export function splitTrainVal(count: number, valSetSize: number, seed: number): { train: number[]; val: number[] } {
  const order = new Rng(mixSeed(seed, 0x5a11)).shuffle(Array.from({ length: count }, (_, i) => i));
  const val = order.slice(0, valSetSize).sort((a, b) => a - b);
  const train = order.slice(valSetSize).sort((a, b) => a - b);
  return { train, val };
}
