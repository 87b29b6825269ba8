/**
 * Our half of the real-PEFT check: tiny checkpoints, one adapter of each type our trainer writes (with non-zero
 * weights, so a misplaced or mistransposed tensor shows), written by the trainer's own writers, and the logits and
 * per-example NLL our `score` path computes with each. peft_check.py loads every adapter with
 * `PeftModel.from_pretrained` and compares.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, type LlamaModel } from '../../src/model/load.js';
import { adapterOptions, forwardHidden, lmHead, type ForwardAdapter } from '../../src/model/llama.js';
import { perExampleNll } from '../../src/model/loss.js';
import { loadAdapter } from '../../src/train/adapters/adapter-io.js';
import { projectionFeatures } from '../../src/train/engines/plan.js';
import { initLoraWeights } from '../../src/train/adapters/lora-weights.js';
import { writeAdapter } from '../../src/train/adapters/peft-files.js';
import { writePromptAdapter } from '../../src/train/adapters/prompt-files.js';
import { promptEmbeddingsOf } from '../../src/train/adapters/prompt-runtime.js';
import { initPromptWeights, promptDims, type PromptAdapterKind, type PromptSpec } from '../../src/train/adapters/prompt-spec.js';
import { Rng } from '../../src/train/rng.js';
import { writeTinyModel, type TinyArch } from '../../tests/helpers/tiny-model.js';

/** Adapter types our trainer writes; prefix tuning twice, with and without its projection MLP. */
export const ADAPTER_CASES = ['lora', 'prompt-tuning', 'p-tuning', 'prefix-tuning', 'prefix-tuning+projection'] as const;
export type AdapterCase = (typeof ADAPTER_CASES)[number];

export interface PeftCase {
  arch: TinyArch;
  adapter: AdapterCase;
  modelDir: string;
  adapterDir: string;
  /** [B][T] token ids */
  ids: number[][];
  /** our logits at the T real positions, [B, T, vocab] flattened */
  logits: number[];
  vocab: number;
  /** our score: mean NLL per example with labels = ids (the virtual tokens' positions excluded, as PEFT does) */
  nll: number[];
}

const B = 2;
const T = 12;
const VIRTUAL_TOKENS = 4;

async function writeCaseAdapter(dir: string, c: AdapterCase, model: LlamaModel, seed: number): Promise<void> {
  if (c === 'lora') {
    const w = initLoraWeights({ r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], useRslora: false }, { layers: model.config.numLayers, features: (_l, m) => projectionFeatures(model.config, m) }, seed);
    // PEFT starts B at zero (no effect at all); a trained adapter has B ≠ 0, so give it values to check.
    const rng = new Rng(seed + 1);
    for (const e of w.entries) for (let i = 0; i < e.b.length; i++) e.b[i] = (rng.next() * 2 - 1) * 0.2;
    writeAdapter(dir, w, { baseModel: model.dir });
    return;
  }
  const kind: PromptAdapterKind = c === 'prefix-tuning+projection' ? 'prefix-tuning' : c;
  const spec: PromptSpec = { kind, numVirtualTokens: VIRTUAL_TOKENS, encoderHiddenSize: null, prefixProjection: c === 'prefix-tuning+projection', initText: null };
  const dims = promptDims(model.config);
  const weights = initPromptWeights(spec, dims, seed);
  writePromptAdapter(dir, spec, dims, await promptEmbeddingsOf(weights), { baseModel: model.dir });
}

/** Logits of the T real positions (virtual tokens prepended by prompt adapters are cut off), as `score` computes them. */
async function ourLogits(model: LlamaModel, ids: number[][], adapter: ForwardAdapter): Promise<Float32Array> {
  const logits = tf.tidy(() => {
    const hidden = forwardHidden(model, tf.tensor2d(ids, [ids.length, ids[0]!.length], 'int32'), adapterOptions(adapter));
    const [b, l, h] = hidden.shape;
    const real = tf.slice(hidden, [0, l - T, 0], [b, T, h]);
    return lmHead(model, tf.reshape(real, [b * T, h]) as tf.Tensor2D);
  });
  try {
    return new Float32Array((await logits.data()) as Float32Array);
  } finally {
    logits.dispose();
  }
}

/** Writes work/peft/cases.json; returns a summary for the figures. */
export async function writePeftCases(work: string, small: boolean, log: (line: string) => void): Promise<{ cases: number; archs: TinyArch[]; adapters: readonly AdapterCase[]; file: string }> {
  const root = join(work, 'peft');
  mkdirSync(root, { recursive: true });
  // Llama (no biases, untied head) and Qwen2 (q/k/v biases, tied head); one on a software adapter, for time.
  const archs: TinyArch[] = small ? ['llama'] : ['llama', 'qwen2'];
  const cases: PeftCase[] = [];
  for (const [ai, arch] of archs.entries()) {
    const modelDir = join(root, arch);
    await writeTinyModel(modelDir, { arch, hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, tied: arch === 'qwen2', dtype: 'F32', seed: 11 + ai });
    const model = await loadModel(modelDir);
    try {
      const rng = new Rng(5 + ai);
      const vocab = model.config.vocabSize;
      const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(rng.next() * model.tokenizer.size)));
      for (const [ci, c] of ADAPTER_CASES.entries()) {
        const adapterDir = join(root, `${arch}-${c}`);
        await writeCaseAdapter(adapterDir, c, model, 100 * ai + ci + 1);
        const adapter = await loadAdapter(adapterDir, model);
        const logits = await ourLogits(model, ids, adapter);
        const nll = (await perExampleNll(model, { inputIds: ids, labels: ids }, adapter)).map((r) => r.nllSum / r.tokens);
        cases.push({ arch, adapter: c, modelDir, adapterDir, ids, logits: Array.from(logits), vocab, nll });
        log(`peft: ${arch} ${c}: our NLL ${nll.map((x) => x.toFixed(4)).join(', ')}`);
      }
    } finally {
      model.dispose();
    }
  }
  const file = join(root, 'cases.json');
  writeFileSync(file, JSON.stringify({ virtualTokens: VIRTUAL_TOKENS, cases }));
  return { cases: cases.length, archs, adapters: ADAPTER_CASES, file };
}
