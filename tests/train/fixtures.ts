import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/model/safetensors.js';
import { trainConfigSchema, type TrainConfig, type TrainConfigInput } from '../../src/config/train.js';
import { writeTinyModel, type TinyModelInfo } from '../helpers/tiny-model.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `forge-train-${prefix}-`));
}

/**
 * The tiny LLaMA the trainer's tests share: byte-level vocabulary, hidden 32, 2 layers, GQA 4/2. Its final norm is
 * scaled ×4 so the logits can reach the range a real model's do: with unit-scale hidden states of width 32 over
 * random head rows, no adapter could push a token's probability much above 0.4, and memorisation would stall there.
 */
export async function tinyModel(dir: string, seed = 11): Promise<TinyModelInfo> {
  const info = await writeTinyModel(join(dir, 'model'), { arch: 'llama', heads: 4, kvHeads: 2, seed });
  const path = join(info.dir, 'model.safetensors');
  const f = openSafetensors(path);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of f.names()) {
    const data = f.read(name);
    if (name === 'model.norm.weight') for (let i = 0; i < data.length; i++) data[i]! *= 4;
    tensors[name] = { dtype: 'F32', shape: f.info(name).shape, data };
  }
  f.close();
  writeSafetensors(path, tensors);
  info.weights['model.norm.weight'] = { shape: tensors['model.norm.weight']!.shape, data: tensors['model.norm.weight']!.data };
  return info;
}

export const SAMPLES = [
  { instruction: 'Name the capital of France.', input: '', output: 'Paris.' },
  { instruction: 'Add the numbers.', input: '2 and 3', output: 'Five.' },
  { instruction: 'Say hi.', input: '', output: 'Hi there!' },
  { instruction: 'What colour is the sky?', input: '', output: 'Blue.' },
  { instruction: 'Reverse the word.', input: 'cat', output: 'tac' },
  { instruction: 'Give an antonym.', input: 'hot', output: 'cold' },
];

export function writeDataset(dir: string, samples: ReadonlyArray<{ instruction: string; input: string; output: string }> = SAMPLES, name = 'data.json'): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(samples));
  return path;
}

/** A fast configuration for tiny models; tests override what they exercise. */
export function quickConfig(over: TrainConfigInput): TrainConfig {
  return trainConfigSchema.parse({
    backend: 'wasm',
    workers: 1,
    valSetSize: 0,
    warmupSteps: 0,
    batchSize: 4,
    microBatchSize: 2,
    epochs: 1,
    saveEvery: 0,
    evalEvery: 0,
    cutoffLen: 256,
    ...over,
  });
}
