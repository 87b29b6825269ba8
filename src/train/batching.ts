import { IGNORE_INDEX } from '../model/loss.js';
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

/** The shortest bucket: shorter sequences are padded up to it. */
const BUCKET_FLOOR = 16;

/**
 * The padded length of a pass whose longest sequence has `length` tokens: 16, 32, 64, 128, then steps of ×1.5 and
 * ×4/3 alternately (192, 256, 384, 512, 768, 1024, …: multiples of 64, at most a third of the tokens wasted), never
 * above `cap` (the longest sequence of the run). tfjs-backend-webgpu pools freed buffers by exact byte size and
 * never frees them, so every new padded length added a whole pass's activations to GPU memory; with buckets a run
 * sees about ten sizes in all.
 */
export function bucketLength(length: number, cap = Infinity): number {
  if (!(length >= 1)) throw new TypeError(`bucketLength: length must be >= 1 (got ${length})`);
  let b = BUCKET_FLOOR;
  while (b < length) b = b < 128 ? 2 * b : isPowerOfTwo(b) ? (3 * b) / 2 : (4 * b) / 3;
  return Math.max(length, Math.min(b, cap));
}

const isPowerOfTwo = (n: number): boolean => (n & (n - 1)) === 0;

/**
 * Each row right-padded to its bucket with `padId` and ignored labels, so that a batch of them pads (loss.ts) to
 * the bucket of its longest row and a split into passes counts padded tokens. Under causal attention a real token
 * never sees a later position, so the padding changes no real position's output, loss or gradient.
 */
export function padToBuckets<B extends { inputIds: number[][]; labels: number[][] }>(batch: B, padId: number, cap = Infinity): B {
  const fill = <X>(row: X[], v: X): X[] => {
    const T = bucketLength(Math.max(1, row.length), cap);
    return row.length < T ? [...row, ...new Array<X>(T - row.length).fill(v)] : row;
  };
  return { ...batch, inputIds: batch.inputIds.map((r) => fill(r, padId)), labels: batch.labels.map((r) => fill(r, IGNORE_INDEX)) };
}
