/** The random checkpoints the model benches share: written once to the temp folder, reused by later runs. */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBackendFlag, selectBackend } from '../src/model/backend.js';
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

/** The flags of the method benches (bench/methods.ts, bench/ppo.ts): backend and the random model's size. */
export const methodBenchOptions = {
  backend: { type: 'string', default: 'wasm' },
  hidden: { type: 'string', default: '256' },
  layers: { type: 'string', default: '4' },
  steps: { type: 'string', default: '3' },
  batch: { type: 'string', default: '8' },
} as const;

/**
 * The method benches' setup from their flags: the backend selected, a temp folder, and a random llama model of
 * `hidden` × `layers` in it (8/4 heads), the same for every method so their figures compare.
 */
export async function methodBenchSetup(name: string, values: { backend?: string; hidden?: string; layers?: string; steps?: string; batch?: string }) {
  const hidden = Number(values.hidden);
  const layers = Number(values.layers);
  const backend = await selectBackend(parseBackendFlag(values.backend) ?? 'wasm');
  const root = mkdtempSync(join(tmpdir(), `forge-bench-${name}-`));
  const model = await writeTinyModel(join(root, 'model'), { arch: 'llama', hidden, layers, heads: 8, kvHeads: 4, intermediate: hidden * 3, seed: 5 });
  return { hidden, layers, steps: Number(values.steps), batch: Number(values.batch), backend, root, model };
}
