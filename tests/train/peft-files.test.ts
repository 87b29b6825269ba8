import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '../../src/model/safetensors.js';
import { readAdapter, writeAdapter } from '../../src/train/adapters/peft-files.js';
import { deltaWeight, initLoraWeights, loraScale, type LoraSpec } from '../../src/train/adapters/lora-weights.js';
import type { TargetModuleName } from '../../src/config/train.js';

const FEATURES: Record<TargetModuleName, { inFeatures: number; outFeatures: number }> = {
  q_proj: { inFeatures: 32, outFeatures: 32 },
  k_proj: { inFeatures: 32, outFeatures: 16 },
  v_proj: { inFeatures: 32, outFeatures: 16 },
  o_proj: { inFeatures: 32, outFeatures: 32 },
  gate_proj: { inFeatures: 32, outFeatures: 64 },
  up_proj: { inFeatures: 32, outFeatures: 64 },
  down_proj: { inFeatures: 64, outFeatures: 32 },
};
const shapes = { layers: 2, features: (_l: number, m: TargetModuleName) => FEATURES[m] };
const spec: LoraSpec = { r: 4, alpha: 8, dropout: 0.05, targetModules: ['v_proj', 'q_proj', 'down_proj'], useRslora: false };

function withDir(f: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'peft-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('adapter files carry PEFT keys, [r, in] / [out, r] shapes and the PEFT LoRA config', () =>
  withDir((dir) => {
    const w = initLoraWeights(spec, shapes, 1);
    writeAdapter(dir, w, { baseModel: '/models/base' });
    const f = openSafetensors(join(dir, 'adapter_model.safetensors'));
    const got = Object.fromEntries(f.names().map((n) => [n, { dtype: f.info(n).dtype, shape: f.info(n).shape }]));
    f.close();
    const expected: Record<string, { dtype: string; shape: number[] }> = {};
    for (const i of [0, 1]) {
      expected[`base_model.model.model.layers.${i}.self_attn.q_proj.lora_A.weight`] = { dtype: 'F32', shape: [4, 32] };
      expected[`base_model.model.model.layers.${i}.self_attn.q_proj.lora_B.weight`] = { dtype: 'F32', shape: [32, 4] };
      expected[`base_model.model.model.layers.${i}.self_attn.v_proj.lora_A.weight`] = { dtype: 'F32', shape: [4, 32] };
      expected[`base_model.model.model.layers.${i}.self_attn.v_proj.lora_B.weight`] = { dtype: 'F32', shape: [16, 4] };
      expected[`base_model.model.model.layers.${i}.mlp.down_proj.lora_A.weight`] = { dtype: 'F32', shape: [4, 64] };
      expected[`base_model.model.model.layers.${i}.mlp.down_proj.lora_B.weight`] = { dtype: 'F32', shape: [32, 4] };
    }
    assert.deepEqual(got, expected);
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(cfg.peft_type, 'LORA');
    assert.equal(cfg.task_type, 'CAUSAL_LM');
    assert.equal(cfg.r, 4);
    assert.equal(cfg.lora_alpha, 8);
    assert.equal(cfg.lora_dropout, 0.05);
    assert.deepEqual(cfg.target_modules, ['q_proj', 'v_proj', 'down_proj']);
    assert.equal(cfg.bias, 'none');
    assert.equal(cfg.fan_in_fan_out, false);
    assert.equal(cfg.use_rslora, false);
    assert.equal(cfg.inference_mode, true);
    assert.equal(cfg.base_model_name_or_path, '/models/base');
  }));

test('PEFT initialisation: A uniform within ±1/sqrt(in_features), B zero', () => {
  const w = initLoraWeights({ ...spec, targetModules: ['down_proj'] }, shapes, 3);
  for (const e of w.entries) {
    const bound = 1 / Math.sqrt(e.inFeatures);
    assert.ok(e.a.every((x) => Math.abs(x) <= bound));
    assert.ok(Math.max(...e.a.map(Math.abs)) > 0.9 * bound);
    assert.ok(e.b.every((x) => x === 0));
  }
});

test('an adapter reads back with the same weights, and ΔW = scale·B·A in [out, in] layout', () =>
  withDir((dir) => {
    const w = initLoraWeights(spec, shapes, 2);
    for (const e of w.entries) e.b.forEach((_, i) => (e.b[i] = Math.sin(i + e.layer)));
    writeAdapter(dir, w, { baseModel: 'base' });
    const back = readAdapter(dir, shapes).weights;
    assert.deepEqual(back.spec, { ...spec, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
    assert.equal(back.entries.length, w.entries.length);
    back.entries.forEach((e, i) => {
      assert.deepEqual(e.a, w.entries[i]!.a);
      assert.deepEqual(e.b, w.entries[i]!.b);
    });
    const e = w.entries[1]!; // layer 0 v_proj: in 32, out 16
    const d = deltaWeight(e, 4, loraScale(spec));
    let ref = 0;
    for (let k = 0; k < 4; k++) ref += e.b[k * 16 + 5]! * e.a[7 * 4 + k]!;
    assert.ok(Math.abs(d[5 * 32 + 7]! - 2 * ref) < 1e-6);
  }));

test('an adapter for another model or format is refused with a clear message', () =>
  withDir((dir) => {
    writeAdapter(dir, initLoraWeights(spec, shapes, 2), { baseModel: 'base' });
    const wider = { layers: 2, features: (_l: number, m: TargetModuleName) => ({ ...FEATURES[m], inFeatures: 48 }) };
    assert.throws(() => readAdapter(dir, wider), /do not fit r=4/);
    assert.throws(() => readAdapter(dir, { layers: 1, features: shapes.features }), /does not belong to this model/);
    const cfgPath = join(dir, 'adapter_config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, peft_type: 'IA3' }));
    assert.throws(() => readAdapter(dir, shapes), /peft_type "IA3" is not supported/);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, target_modules: ['c_attn'] }));
    assert.throws(() => readAdapter(dir, shapes), /target module "c_attn" is not a LLaMA projection/);
    assert.throws(() => readAdapter(join(dir, 'nope'), shapes), /no adapter_config.json/);
  }));
