/** The random checkpoints the model benches share: written once to the temp folder, reused by later runs. */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../tests/helpers/tiny-model.js';

/**
 * A SmolLM2-135M-shaped checkpoint (30 layers, hidden 576, 9/3 heads, intermediate 1536, vocab 49152, tied; BF16,
 * ~270 MB), or with `small` a 2-layer hidden-64 one, with random weights and a byte-level tokenizer.
 */
export async function randomBenchModel(small: boolean, log: (line: string) => void = () => {}): Promise<string> {
  const dir = join(tmpdir(), small ? 'alpaca-forge-bench-train-small' : 'alpaca-forge-bench-smollm2-135m-random');
  if (!existsSync(join(dir, 'model.safetensors'))) {
    log(`writing a random ${small ? 'small' : 'SmolLM2-135M-shaped'} checkpoint to ${dir}…`);
    mkdirSync(dir, { recursive: true });
    await writeTinyModel(
      dir,
      small
        ? { arch: 'llama', hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, tied: true, dtype: 'BF16', seed: 1 }
        : { arch: 'llama', hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocabSize: 49152, tied: true, dtype: 'BF16', seed: 1 },
    );
  }
  return dir;
}
