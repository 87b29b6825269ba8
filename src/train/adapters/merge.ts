import * as tf from '@tensorflow/tfjs';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ModelError, UsageError } from '../../errors.js';
import { loadModelConfig } from '../../model/config.js';
import { NATIVE_BACKEND } from '../../model/native-backend.js';
import { loadNativeBlas } from '../../model/native-blas.js';
import { readSafetensorsDir, writeSafetensors, type StoredDtype, type TensorToWrite } from '../../model/safetensors.js';
import { loraScale, modulePath, transpose, type LoraEntry } from './lora-weights.js';
import { readAdapter } from './peft-files.js';
import { adapterPeftType, isPromptPeftType } from './prompt-files.js';
import { projectionFeatures } from '../engines/plan.js';

export interface MergeResult {
  outDir: string;
  files: string[];
  tensors: number;
  mergedModules: number;
  copied: string[];
}

// Weights are rewritten; everything else a loader needs (config, tokenizer, generation config, chat template…) is
// copied. Pickled checkpoints are left out: the merged weights replace them.
const WEIGHT_FILE = /(\.safetensors|\.safetensors\.index\.json|\.bin|\.bin\.index\.json|\.pt|\.pth|\.ckpt|\.gguf|\.h5|\.msgpack)$/;

// Rows of W merged per step, bounded in bytes: keeps each tensor well inside a GPU's storage-binding limit and the
// temporaries small on any backend.
const MERGE_BLOCK_BYTES = 64 * 1024 * 1024;

/**
 * W [out, in] (Hugging Face layout, modified in place) += scale·B·A. On the native backend one BLAS call
 * accumulates straight into W (no copies in or out, no separate scale and add passes); elsewhere it is computed on
 * the current TensorFlow.js backend in row blocks and read back asynchronously (the only read a GPU backend allows
 * in Node).
 */
async function addDelta(w: Float32Array, e: LoraEntry, r: number, scale: number): Promise<void> {
  const { inFeatures: n, outFeatures: m } = e;
  const blas = tf.getBackend() === NATIVE_BACKEND ? loadNativeBlas() : null;
  if (blas && !(blas instanceof Error)) {
    // Our A is [in, r] and B is [r, out]: ΔW = Bᵀ·Aᵀ, both transposes read in place by BLAS.
    blas.sgemmBatched(true, true, m, n, r, e.b, e.a, w, 1, 0, 0, scale, 1);
    return;
  }
  // Our layouts are A [in, r] and B [r, out]; ΔW = scale·Bᵀ·Aᵀ, with both transposes done once on the host so every
  // matMul on the backend is a plain one.
  const bT = tf.tensor2d(transpose(e.b, r, m), [m, r]);
  const aT = tf.tensor2d(transpose(e.a, n, r), [r, n]);
  try {
    const rows = Math.max(1, Math.floor(MERGE_BLOCK_BYTES / (4 * n)));
    for (let o0 = 0; o0 < m; o0 += rows) {
      const k = Math.min(rows, m - o0);
      const block = tf.tidy(() => tf.add(tf.tensor2d(w.subarray(o0 * n, (o0 + k) * n), [k, n]), tf.mul(tf.matMul(tf.slice(bT, [o0, 0], [k, r]), aT), scale)));
      try {
        w.set((await block.data()) as Float32Array, o0 * n);
      } finally {
        block.dispose();
      }
    }
  } finally {
    tf.dispose([bT, aT]);
  }
}

/**
 * Merges a LoRA adapter into its base: W' = W + scale·B·A for every adapted projection, written as a complete
 * Hugging Face checkpoint in the base's dtype and shard layout (one shard in memory at a time), ready for
 * transformers, vLLM or a GGUF conversion. The products run on the backend selectBackend started.
 */
export async function mergeAdapter(opts: { model: string; adapter: string; out: string; onFile?: (file: string, index: number, count: number) => void }): Promise<MergeResult> {
  const { model, adapter, out } = opts;
  if (resolve(out) === resolve(model)) throw new UsageError('--out must differ from --model', 'merging writes a new checkpoint; the base stays untouched');
  if (existsSync(out) && readdirSync(out).length > 0) throw new UsageError(`${out} is not empty`, 'choose a new or empty --out directory');
  const peftType = adapterPeftType(adapter);
  if (isPromptPeftType(peftType)) {
    throw new UsageError(`${adapter} is a ${peftType} adapter: its virtual tokens cannot be merged into weights`, 'use it as it is: score/sample --adapter DIR (or PEFT in Python); only LoRA adapters merge');
  }
  const config = loadModelConfig(model);
  const { weights } = readAdapter(adapter, { layers: config.numLayers, features: (l, m) => (l < config.numLayers ? projectionFeatures(config, m) : undefined) });
  const scale = loraScale(weights.spec);
  const deltas = new Map(weights.entries.map((e) => [`${modulePath(e.layer, e.module)}.weight`, e]));
  const st = readSafetensorsDir(model);
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  let tensors = 0;
  let merged = 0;
  try {
    const byFile = new Map<string, string[]>();
    for (const name of st.names()) {
      const file = st.info(name).file;
      byFile.set(file, [...(byFile.get(file) ?? []), name]);
    }
    let index = 0;
    for (const [file, names] of byFile) {
      opts.onFile?.(basename(file), index++, byFile.size);
      const shard: Record<string, TensorToWrite> = {};
      for (const name of names) {
        const info = st.info(name);
        if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16') {
          throw new ModelError(`${file}: tensor "${name}" is ${info.dtype}`, 'only F32/F16/BF16 checkpoints can be merged (dequantise the base first)');
        }
        const data = st.read(name);
        const e = deltas.get(name);
        if (e) {
          const implied = e.inFeatures * e.outFeatures;
          if (implied !== data.length) throw new ModelError(`${file}: "${name}" has ${data.length} values but the adapter implies ${implied}`, 'use the adapter with the base model it was trained on');
          await addDelta(data, e, weights.spec.r, scale);
          deltas.delete(name);
          merged++;
        }
        shard[name] = { dtype: info.dtype as StoredDtype, shape: info.shape, data };
        tensors++;
      }
      const target = join(out, basename(file));
      writeSafetensors(target, shard, { format: 'pt' });
      files.push(target);
    }
    if (deltas.size) throw new ModelError(`${model}: no weight "${[...deltas.keys()][0]}" for the adapter to merge into`, 'use the adapter with the base model it was trained on');
  } finally {
    st.close();
  }
  const copied: string[] = [];
  for (const name of readdirSync(model)) {
    const src = join(model, name);
    if (!statSync(src).isFile() || (WEIGHT_FILE.test(name) && name !== 'model.safetensors.index.json')) continue;
    copyFileSync(src, join(out, name));
    copied.push(name);
  }
  return { outDir: out, files, tensors, mergedModules: merged, copied };
}
