import { createHash } from 'node:crypto';
import { DataError, UsageError } from '../../errors.js';
import { readAlpacaFile } from '../../data/alpaca-file.js';
import type { Sample } from '../../data/sample.js';
import type { Tokenizer } from '../../model/tokenizer.js';
import { encodeExample } from '../../model/encode-example.js';

export interface EncodedExample {
  inputIds: number[];
  /** -100 where no loss is taken (prompt tokens unless trainOnInputs) */
  labels: number[];
  /** positions that carry loss */
  lossTokens: number;
}

/** Samples from an Alpaca JSON/JSONL file, or the accepted/kept samples of a run directory. */
export async function loadTrainingSamples(source: { data?: string | null; run?: string | null }): Promise<{ samples: Sample[]; label: string }> {
  if (source.data && source.run) throw new UsageError('pass either --data or --run, not both');
  let samples: Sample[];
  let label: string;
  if (source.data) {
    samples = readAlpacaFile(source.data);
    label = source.data;
  } else if (source.run) {
    // Loaded lazily: training from a file must not need the SQLite store.
    const { loadRunSamples } = await import('../../store/run-samples.js');
    samples = loadRunSamples(source.run);
    label = source.run;
  } else {
    throw new UsageError('no training data', 'pass --data FILE (Alpaca JSON/JSONL) or --run output/NAME');
  }
  checkSamples(samples, label);
  return { samples, label };
}

/** Rejects data that cannot train anything, naming the records to fix. */
export function checkSamples(samples: readonly Sample[], label: string): void {
  if (samples.length === 0) {
    throw new DataError(`${label}: no samples to train on`, label.endsWith('.json') || label.endsWith('.jsonl') ? 'the file is empty' : 'accept or keep samples in the run first (alpaca-forge curate / review)');
  }
  const empty: number[] = [];
  samples.forEach((s, i) => {
    if (s.output.trim() === '') empty.push(i + 1);
  });
  if (empty.length) {
    const list = empty.slice(0, 5).join(', ') + (empty.length > 5 ? `, … (${empty.length} in all)` : '');
    throw new DataError(`${label}: ${empty.length === 1 ? 'record' : 'records'} ${list} ${empty.length === 1 ? 'has' : 'have'} an empty "output"`, 'remove or fill those records (alpaca-forge curate drops them)');
  }
  const noInstruction = samples.findIndex((s) => s.instruction.trim() === '');
  if (noInstruction >= 0) throw new DataError(`${label}: record ${noInstruction + 1} has an empty "instruction"`, 'remove or fill that record');
}

/**
 * Tokenises samples for training. Examples whose prompt fills the whole cutoff keep no response token and so carry
 * no loss: they are dropped (and counted); if that leaves nothing, the cutoff is too short and we say so.
 */
export function encodeTrainingSamples(
  tok: Tokenizer,
  samples: readonly Sample[],
  opts: { cutoffLen: number; trainOnInputs: boolean; label: string },
): { examples: EncodedExample[]; kept: number[]; dropped: number } {
  const examples: EncodedExample[] = [];
  const kept: number[] = [];
  let shortestPrompt = Infinity;
  samples.forEach((s, i) => {
    const e = encodeExample(tok, s, { cutoffLen: opts.cutoffLen, trainOnInputs: opts.trainOnInputs, addEos: true });
    shortestPrompt = Math.min(shortestPrompt, e.promptLength);
    const lossTokens = e.labels.reduce((n, l, t) => n + (t > 0 && l !== -100 ? 1 : 0), 0);
    if (lossTokens === 0) return;
    examples.push({ inputIds: e.inputIds, labels: e.labels, lossTokens });
    kept.push(i);
  });
  if (examples.length === 0) {
    throw new UsageError(
      `--cutoff-len ${opts.cutoffLen} is shorter than every prompt in ${opts.label} (the shortest prompt is ${shortestPrompt} tokens): no response token is left to learn from`,
      `raise --cutoff-len above ${shortestPrompt} (alpaca-lora uses 256)`,
    );
  }
  return { examples, kept, dropped: samples.length - examples.length };
}

/** Identifies the exact training data, so a resumed run can refuse a changed dataset. */
export function fingerprintExamples(examples: readonly EncodedExample[]): string {
  const h = createHash('sha256');
  for (const e of examples) {
    h.update(Int32Array.from(e.inputIds));
    h.update(Int32Array.from(e.labels));
    h.update('|');
  }
  return h.digest('hex').slice(0, 16);
}
