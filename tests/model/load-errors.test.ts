import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../src/model/backend.js';
import { loadModel } from '../../src/model/load.js';
import { ModelError } from '../../src/errors.js';
import { openSafetensors, readSafetensorsDir, roundToDtype, writeSafetensors } from '../../src/model/safetensors.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

before(async () => {
  await selectBackend('wasm');
});
const tmp = () => mkdtempSync(join(tmpdir(), 'forge-err-'));

async function loadError(dir: string): Promise<ModelError> {
  try {
    const m = await loadModel(dir);
    m.dispose();
  } catch (e) {
    assert.ok(e instanceof ModelError, `expected a ModelError, got ${String(e)}`);
    assert.ok(e.hint, 'every model error says what to do');
    return e;
  }
  assert.fail('loadModel should have failed');
}

test('safetensors round trip: F32 exact, F16/BF16 rounded to nearest, metadata kept, data 8-byte aligned', () => {
  const dir = tmp();
  const data = Float32Array.from([0, 1, -2.5, 3.14159, 65504, 1e-8, -1e-3, 123.456]);
  const path = join(dir, 'x.safetensors');
  writeSafetensors(path, { a: { dtype: 'F32', shape: [2, 4], data }, b: { dtype: 'F16', shape: [8], data }, c: { dtype: 'BF16', shape: [4, 2], data } }, { format: 'pt' });
  const f = openSafetensors(path);
  assert.deepEqual(f.names().sort(), ['a', 'b', 'c']);
  assert.deepEqual(f.metadata, { format: 'pt' });
  assert.deepEqual(f.info('c').shape, [4, 2]);
  assert.deepEqual([...f.read('a')], [...data]);
  assert.deepEqual([...f.read('b')], [...roundToDtype(data, 'F16')]);
  assert.deepEqual([...f.read('c')], [...roundToDtype(data, 'BF16')]);
  // Rounding is to nearest: within half a unit in the last place of each format.
  f.read('b').forEach((v, i) => assert.ok(Math.abs(v - data[i]!) <= Math.abs(data[i]!) * 2 ** -11 + 2 ** -25));
  f.read('c').forEach((v, i) => assert.ok(Math.abs(v - data[i]!) <= Math.abs(data[i]!) * 2 ** -8));
  const headerLen = Number(readFileSync(path).readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0);
  f.close();
});

test('a missing model directory or config.json is a ModelError naming the path', async () => {
  const e1 = await loadError(join(tmp(), 'nope'));
  assert.match(e1.message, /nope: model directory not found/);
  const info = await writeTinyModel(join(tmp(), 'm'), { arch: 'llama' });
  rmSync(join(info.dir, 'config.json'));
  const e2 = await loadError(info.dir);
  assert.match(e2.message, /config\.json: cannot read \(ENOENT\)/);
});

test('missing weights or tokenizer files name the file', async () => {
  const info = await writeTinyModel(join(tmp(), 'm'), { arch: 'llama' });
  rmSync(join(info.dir, 'tokenizer.json'));
  assert.match((await loadError(info.dir)).message, /tokenizer\.json: cannot read/);
  const info2 = await writeTinyModel(join(tmp(), 'm2'), { arch: 'llama' });
  rmSync(join(info2.dir, 'model.safetensors'));
  assert.match((await loadError(info2.dir)).message, /no model\.safetensors or model\.safetensors\.index\.json/);
  const info3 = await writeTinyModel(join(tmp(), 'm3'), { arch: 'llama', sharded: true });
  rmSync(join(info3.dir, 'model-00002-of-00002.safetensors'));
  assert.match((await loadError(info3.dir)).message, /model-00002-of-00002\.safetensors: shard listed in .* for tensor ".*" is missing/);
});

test('an unsupported architecture is named with the supported list', async () => {
  const info = await writeTinyModel(join(tmp(), 'm'), { arch: 'llama' });
  const cfg = JSON.parse(readFileSync(join(info.dir, 'config.json'), 'utf8'));
  writeFileSync(join(info.dir, 'config.json'), JSON.stringify({ ...cfg, model_type: 'gpt2' }));
  const e = await loadError(info.dir);
  assert.match(e.message, /config\.json: unsupported architecture "gpt2"/);
  assert.match(e.hint!, /llama, mistral, qwen2, qwen3/);
});

test('a shape mismatch names the file, the tensor and both shapes', async () => {
  const info = await writeTinyModel(join(tmp(), 'm'), { arch: 'llama', intermediate: 64 });
  const cfg = JSON.parse(readFileSync(join(info.dir, 'config.json'), 'utf8'));
  writeFileSync(join(info.dir, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 48 }));
  const e = await loadError(info.dir);
  assert.match(e.message, /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[64, 32\] but config\.json implies \[48, 32\]/);
});

test('a tensor missing from the weights is named', async () => {
  const info = await writeTinyModel(join(tmp(), 'm'), { arch: 'qwen3' });
  const st = readSafetensorsDir(info.dir);
  const tensors = Object.fromEntries(st.names().filter((n) => n !== 'model.layers.1.self_attn.k_norm.weight').map((n) => [n, { dtype: 'F32' as const, shape: st.info(n).shape, data: st.read(n) }]));
  st.close();
  writeSafetensors(join(info.dir, 'model.safetensors'), tensors);
  assert.match((await loadError(info.dir)).message, /missing tensor "model\.layers\.1\.self_attn\.k_norm\.weight"/);
});

test('a corrupt or truncated safetensors file is one ModelError naming the file', async () => {
  const info = await writeTinyModel(join(tmp(), 'm'), { arch: 'llama' });
  const path = join(info.dir, 'model.safetensors');
  const good = readFileSync(path);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from('#garbage'), 0, 8, 8);
  closeSync(fd);
  const e1 = await loadError(info.dir);
  assert.match(e1.message, /model\.safetensors: corrupt safetensors header \(header is not JSON/);
  writeFileSync(path, good.subarray(0, good.length - 100));
  const e2 = await loadError(info.dir);
  assert.match(e2.message, /model\.safetensors: tensor ".*": data ends at byte \d+ but the file has only \d+ data bytes/);
  writeFileSync(path, Buffer.alloc(4));
  assert.match((await loadError(info.dir)).message, /truncated safetensors file \(file is only 4 bytes\)/);
});
