import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { writeOutput } from '../../io/write-output.js';
import { parseJsonAs } from '../../data/parse-json-as.js';
import { join, resolve } from 'node:path';
import { DataError, UsageError } from '../../errors.js';
import type { TrainConfig } from '../../config/train.js';
import { formatAlpacaPrompt } from '../../model/alpaca-prompt.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../adapters/peft-files.js';
import { loadTrainingSamples } from '../methods/sft-data.js';
import { buildRecipe, dataShapeOf, llamaFactoryRecord, expectedDataShape, type DpoLoss, type RecipeDataShape, type RecipeTarget, type TrainMethod } from './recipe.js';

export interface EmitRecipeOptions {
  target: RecipeTarget;
  method: TrainMethod;
  gpus: number;
  dpo: { beta: number; loss: DpoLoss };
}

export interface EmittedRecipe {
  files: string[];
  launch: string[];
  dataPath: string;
  records: number;
}

/**
 * Writes the recipe into config.out. SFT from a run first writes the run's training samples (accepted, else kept)
 * to OUT/train.json, so the recipe points at a file that the other trainer can read on any machine it is copied to.
 */
export async function emitRecipe(config: TrainConfig, opts: EmitRecipeOptions): Promise<EmittedRecipe> {
  if (!config.out) throw new UsageError('--out is required', 'pass --out DIR for the recipe files');
  const outDir = resolve(config.out);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError(`--out ${config.out} is a file`, 'the recipe is several files: pass a directory (new or existing) as --out');
  if (config.initAdapter) checkAdapterDir(config.initAdapter);
  mkdirSync(outDir, { recursive: true });
  let dataPath: string;
  let records: number;
  let shape: RecipeDataShape;
  if (config.run && !config.data && opts.method === 'dpo') {
    // The pairs `export --format dpo|dpo-alpaca` would write, in the shape this trainer reads.
    const format = expectedDataShape(opts.target, opts.method) as 'dpo' | 'dpo-alpaca';
    const { RunStore } = await import('../../store/run-store.js');
    const { exportPairs } = await import('../../pairs/export-pairs.js');
    dataPath = join(outDir, format === 'dpo' ? 'pairs.jsonl' : 'pairs.json');
    const store = RunStore.open(config.run);
    try {
      records = exportPairs(store, store.usableItems(), { out: dataPath, format, pairs: 'best-worst' }).pairs;
    } finally {
      store.close();
    }
    if (records === 0) throw new DataError(`${config.run}: no ranked responses to make preference pairs from`, `run alpaca-forge respond --run ${config.run} --responses 4, then curate --rank or review --rank`);
    shape = format;
  } else if (config.run && !config.data) {
    const { samples } = await loadTrainingSamples({ run: config.run });
    dataPath = join(outDir, 'train.json');
    writeOutput(dataPath, `${JSON.stringify(samples.map((s) => ({ instruction: s.instruction, input: s.input, output: s.output })), null, 2)}\n`);
    records = samples.length;
    shape = 'alpaca';
  } else if (config.data) {
    dataPath = resolve(config.data);
    ({ records, shape } = inspectDataFile(dataPath));
  } else {
    throw new UsageError('no training data', 'pass --data FILE or --run output/NAME');
  }
  const systemColumn = opts.target === 'llamafactory' && shape === expectedDataShape(opts.target, opts.method);
  if (systemColumn) dataPath = writeLlamaFactoryData(dataPath, join(outDir, 'llamafactory-data.json'));
  const recipe = buildRecipe({ target: opts.target, method: opts.method, config, dataPath, dataShape: shape, records, outDir, gpus: opts.gpus, dpo: opts.dpo, systemColumn });
  const files: string[] = [];
  for (const f of recipe.files) {
    const path = join(outDir, f.name);
    writeOutput(path, f.content);
    files.push(path);
  }
  const launchPath = join(outDir, `launch-${opts.target}.sh`);
  writeOutput(launchPath, `#!/usr/bin/env bash\n# One GPU:\n# ${recipe.launch[0]}\n# ${opts.gpus} GPU(s) on this node:\n${recipe.launch[1]}\n${recipe.launch[2]}\n`);
  chmodSync(launchPath, 0o755);
  files.push(launchPath);
  return { files, launch: recipe.launch, dataPath, records };
}

/** --init-adapter must be a PEFT LoRA adapter directory: the recipe would otherwise fail on the GPU machine. */
function checkAdapterDir(dir: string): void {
  const hint = 'point --init-adapter at a directory written by alpaca-forge train (or PEFT save_pretrained)';
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--init-adapter ${dir}: no such directory`, hint);
  for (const f of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) if (!existsSync(join(dir, f))) throw new UsageError(`--init-adapter ${dir}: no ${f}`, hint);
  let peftType: unknown;
  try {
    peftType = parseJsonAs(readFileSync(join(dir, ADAPTER_CONFIG), 'utf8'), z.object({ peft_type: z.unknown() }))['peft_type'];
  } catch (e) {
    throw new UsageError(`--init-adapter ${join(dir, ADAPTER_CONFIG)}: not valid JSON (${(e as Error).message})`, hint);
  }
  if (peftType !== 'LORA') throw new UsageError(`--init-adapter ${dir}: peft_type ${JSON.stringify(peftType)}, not a LoRA adapter`, 'both recipes continue a LoRA adapter only');
}

/** The records of `path` as LLaMA-Factory's alpaca template must see them to render Alpaca's prompt (see llamaFactoryRecord). */
function writeLlamaFactoryData(path: string, out: string): string {
  const cut = (p: string) => p.slice(0, p.indexOf('### Instruction:'));
  const preambles = { withInput: cut(formatAlpacaPrompt({ instruction: 'i', input: 'x' })), noInput: cut(formatAlpacaPrompt({ instruction: 'i', input: '' })) };
  const rows = readRows(path) as Array<{ instruction: string; input?: string }>;
  writeOutput(out, `${JSON.stringify(rows.map((r) => llamaFactoryRecord({ ...r, input: r.input ?? '' }, preambles)), null, 2)}\n`);
  return out;
}

function readRows(path: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (e) {
    throw new DataError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'check the --data path');
  }
  try {
    return text.trimStart().startsWith('[') ? parseJsonAs(text, z.array(z.unknown())) : text.split('\n').filter((l) => l.trim() !== '').map((l): unknown => JSON.parse(l));
  } catch (e) {
    throw new DataError(`${path}: not valid JSON or JSONL (${(e as Error).message})`, 'write it with alpaca-forge export');
  }
}

/** Counts records and reads the first one's shape, from a JSON array or JSONL file. */
function inspectDataFile(path: string): { records: number; shape: RecipeDataShape } {
  const rows = readRows(path);
  if (rows.length === 0) throw new DataError(`${path}: no records`, 'export some samples or pairs first');
  const first = rows[0];
  const shape = first !== null && typeof first === 'object' ? dataShapeOf(first as Record<string, unknown>) : null;
  if (!shape) {
    throw new DataError(`${path}: record 1 is neither an Alpaca sample {instruction, input, output} nor a preference pair {prompt|instruction, chosen, rejected}`, 'write the file with alpaca-forge export');
  }
  return { records: rows.length, shape };
}
