import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfWeightName } from '../../src/model/load.js';
import { packWeight, unpackWeight, type BaseWeights } from '../../src/model/base-weights.js';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/model/safetensors.js';
import { writeTinyModel, type TinyModelInfo, type TinyModelOptions } from './tiny-model.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'forge-base-weights-'));

/** Rewrites a tiny model's safetensors with `edit` applied to every tensor; returns the info with the new values. */
export function rewrite(info: TinyModelInfo, dir: string, edit: (name: string, data: Float32Array, shape: number[]) => Float32Array): TinyModelInfo {
  cpSync(info.dir, dir, { recursive: true });
  const path = join(dir, 'model.safetensors');
  const f = openSafetensors(path);
  const tensors: Record<string, TensorToWrite> = {};
  const weights: TinyModelInfo['weights'] = {};
  for (const name of f.names()) {
    const shape = f.info(name).shape;
    const data = edit(name, f.read(name), shape);
    tensors[name] = { dtype: 'F32', shape, data };
    weights[name] = { shape, data };
  }
  f.close();
  writeSafetensors(path, tensors);
  return { ...info, dir, weights };
}

const isProjection = (name: string) => /_proj\.weight$/.test(name);

/** [out, in] → the float32 values the packed [in, out] layout stands for, back as [out, in]. */
function dequantised(kind: Exclude<BaseWeights, 'f32'>, data: Float32Array, [out, inF]: number[]): Float32Array {
  const t = new Float32Array(data.length);
  for (let o = 0; o < out!; o++) for (let i = 0; i < inF!; i++) t[i * out! + o] = data[o * inF! + i]!;
  const back = unpackWeight(packWeight(kind, t, inF!, out!));
  const w = new Float32Array(data.length);
  for (let o = 0; o < out!; o++) for (let i = 0; i < inF!; i++) w[o * inF! + i] = back[i * out! + o]!;
  return w;
}

/**
 * A tiny llama whose layer-0 q_proj has one input feature 20× larger than the rest (an LLM.int8() outlier), and its
 * twin for `kind` whose projections hold the dequantised values in float32: the reference the packed model must equal.
 */
export async function modelPair(kind: Exclude<BaseWeights, 'f32'>, opts: TinyModelOptions = { arch: 'qwen2', heads: 4, kvHeads: 2, seed: 21 }): Promise<{ packed: TinyModelInfo; plain: TinyModelInfo }> {
  const base = await writeTinyModel(join(tmp(), 'base'), opts);
  const packed = rewrite(base, join(tmp(), 'packed'), (name, data, [, inF]) => {
    if (name === hfWeightName(0, 'q_proj')) for (let o = 0; o < data.length / inF!; o++) data[o * inF! + 3]! *= 20;
    return data;
  });
  const plain = rewrite(packed, join(tmp(), 'plain'), (name, data, shape) => (isProjection(name) ? dequantised(kind, data, shape) : data));
  return { packed, plain };
}

