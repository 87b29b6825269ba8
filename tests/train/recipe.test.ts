import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { buildRecipe, type RecipeInput } from '../../src/train/recipes/recipe.js';
import { trainConfigSchema } from '../../src/config/train.js';
import { makeRun } from '../ui/run-fixture.js';

const base = (over: Partial<RecipeInput> = {}): RecipeInput => ({
  target: 'axolotl',
  method: 'sft',
  config: trainConfigSchema.parse({ model: 'HuggingFaceTB/SmolLM2-135M', out: '/tmp/r', loraR: 16, loraAlpha: 32, targetModules: ['q_proj', 'k_proj', 'v_proj'], valSetSize: 100, maxSteps: 500, lrSchedule: 'constant' }),
  dataPath: '/data/train.json',
  dataShape: 'alpaca',
  records: 1000,
  outDir: '/tmp/r',
  gpus: 1,
  dpo: { beta: 0.1, loss: 'sigmoid' },
  ...over,
});

test('axolotl SFT recipe carries the LoRA, data, batch and schedule settings of the run', () => {
  const r = buildRecipe(base());
  const cfg = parse(r.files[0]!.content) as Record<string, unknown>;
  assert.equal(cfg['base_model'], 'HuggingFaceTB/SmolLM2-135M');
  assert.deepEqual(cfg['datasets'], [{ path: '/data/train.json', ds_type: 'json', type: 'alpaca' }]);
  assert.equal(cfg['adapter'], 'lora');
  assert.equal(cfg['lora_r'], 16);
  assert.equal(cfg['lora_alpha'], 32);
  assert.deepEqual(cfg['lora_target_modules'], ['q_proj', 'k_proj', 'v_proj']);
  assert.equal(cfg['sequence_len'], 256);
  assert.equal(cfg['micro_batch_size'], 4);
  assert.equal(cfg['gradient_accumulation_steps'], 32, '128 samples per step = 4 × 32');
  assert.equal(cfg['val_set_size'], 0.1, '100 of 1000 records');
  assert.equal(cfg['max_steps'], 500);
  assert.equal(cfg['lr_scheduler'], 'constant_with_warmup');
  assert.equal(cfg['rl'], undefined);
  assert.match(r.launch[0]!, /^axolotl train \/tmp\/r\/axolotl\.yaml$/);
});

test('LLaMA-Factory DPO recipe registers the pairs as a ranking dataset and sets beta and loss', () => {
  const r = buildRecipe(base({ target: 'llamafactory', method: 'dpo', dataShape: 'dpo-alpaca', dataPath: '/data/pairs.jsonl', gpus: 4, dpo: { beta: 0.25, loss: 'ipo' } }));
  const cfg = parse(r.files.find((f) => f.name === 'llamafactory.yaml')!.content) as Record<string, unknown>;
  assert.equal(cfg['stage'], 'dpo');
  assert.equal(cfg['pref_beta'], 0.25);
  assert.equal(cfg['pref_loss'], 'ipo');
  assert.equal(cfg['lora_target'], 'q_proj,k_proj,v_proj');
  assert.equal(cfg['template'], 'alpaca');
  assert.equal(cfg['per_device_train_batch_size'], 4);
  assert.equal(cfg['gradient_accumulation_steps'], 8, '128 = 4 per device × 4 GPUs × 8');
  const info = JSON.parse(r.files.find((f) => f.name === 'dataset_info.json')!.content) as Record<string, Record<string, unknown>>;
  const ds = info[cfg['dataset'] as string]!;
  assert.equal(ds['file_name'], '/data/pairs.jsonl');
  assert.equal(ds['ranking'], true);
  assert.deepEqual(ds['columns'], { prompt: 'instruction', query: 'input', chosen: 'chosen', rejected: 'rejected' });
  assert.match(r.launch[1]!, /NPROC_PER_NODE=4 llamafactory-cli train/);
});

test('axolotl DPO reads rendered-prompt pairs; the wrong export format is refused with the right one named', () => {
  const r = buildRecipe(base({ method: 'dpo', dataShape: 'dpo' }));
  const cfg = parse(r.files[0]!.content) as Record<string, unknown>;
  assert.equal(cfg['rl'], 'dpo');
  assert.equal(cfg['rl_beta'], 0.1);
  const ds = (cfg['datasets'] as Array<Record<string, unknown>>)[0]!;
  assert.deepEqual(ds['type'], { field_prompt: 'prompt', field_chosen: 'chosen', field_rejected: 'rejected', prompt_format: '{prompt}', chosen_format: '{chosen}', rejected_format: '{rejected}' });
  const hintOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as { hint?: string }).hint ?? '';
    }
    return 'did not throw';
  };
  assert.match(hintOf(() => buildRecipe(base({ method: 'dpo', dataShape: 'dpo-alpaca' }))), /export --run DIR --format dpo --out FILE/);
  assert.match(hintOf(() => buildRecipe(base({ method: 'sft', dataShape: 'dpo' }))), /--format alpaca/);
});

test('a batch size that GPUs × micro-batch cannot divide is refused', () => {
  assert.throws(() => buildRecipe(base({ gpus: 3 })), /not a multiple of --micro-batch-size 4 × 3 GPU/);
});

test('train --emit-recipe writes the config, dataset file and launch script, and prints the launch command', async () => {
  const root = mkdtempSync(join(tmpdir(), 'forge-recipe-'));
  const { dir, store } = makeRun([
    { instruction: 'Name a prime.', output: '7' },
    { instruction: 'Add 2 and 3.', output: '5' },
  ]);
  store.close();
  const out = join(root, 'lf');
  const r = await runCli(['train', '--emit-recipe', 'llamafactory', '--model', 'Qwen/Qwen2.5-0.5B', '--run', dir, '--out', out, '--val-set-size', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^llamafactory-cli train .*llamafactory\.yaml$/m);
  const samples = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as unknown[];
  assert.equal(samples.length, 2);
  assert.ok(existsSync(join(out, 'dataset_info.json')));
  assert.ok(existsSync(join(out, 'launch-llamafactory.sh')));

  const pairs = join(root, 'pairs.jsonl');
  writeFileSync(pairs, `${JSON.stringify({ instruction: 'Name a prime.', input: '', chosen: '7', rejected: '8' })}\n`);
  const bad = await runCli(['train', '--emit-recipe', 'axolotl', '--method', 'dpo', '--model', 'm', '--data', pairs, '--out', join(root, 'ax')]);
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(bad.stderr, /axolotl DPO reads "dpo" pairs/);
  const unknown = await runCli(['train', '--emit-recipe', 'trl', '--model', 'm', '--data', pairs, '--out', join(root, 'x')]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /use one of: axolotl, llamafactory/);
});
