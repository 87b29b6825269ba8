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

test('LLaMA-Factory DPO never gets train_on_prompt (it accepts it for SFT only); SFT keeps it', () => {
  const cfg = (method: 'sft' | 'dpo') => {
    const config = trainConfigSchema.parse({ model: 'm', out: '/tmp/r', trainOnInputs: true, valSetSize: 0 });
    const r = buildRecipe(base({ target: 'llamafactory', method, config, dataShape: method === 'sft' ? 'alpaca' : 'dpo-alpaca' }));
    return parse(r.files.find((f) => f.name === 'llamafactory.yaml')!.content) as Record<string, unknown>;
  };
  assert.equal('train_on_prompt' in cfg('dpo'), false);
  assert.equal(cfg('sft')['train_on_prompt'], true);
});

test('DPO from an SFT adapter: both recipes use base + SFT adapter as the reference, as the built-in trainer does', () => {
  const config = trainConfigSchema.parse({ model: 'org/base', out: '/tmp/r', initAdapter: '/adapters/sft', valSetSize: 0 });
  const lf = buildRecipe(base({ target: 'llamafactory', method: 'dpo', config, dataShape: 'dpo-alpaca' }));
  const lfCfg = parse(lf.files.find((f) => f.name === 'llamafactory.yaml')!.content) as Record<string, unknown>;
  assert.equal(lfCfg['adapter_name_or_path'], '/adapters/sft', 'the policy continues the SFT adapter');
  assert.equal(lfCfg['ref_model'], 'org/base');
  assert.equal(lfCfg['ref_model_adapters'], '/adapters/sft');
  const ax = buildRecipe(base({ method: 'dpo', config, dataShape: 'dpo' }));
  const axCfg = parse(ax.files[0]!.content) as Record<string, unknown>;
  // axolotl's reference is the adapter-disabled model: train on the merged SFT model so that it is base + SFT.
  assert.equal(axCfg['base_model'], '/tmp/r/sft-merged');
  assert.equal(axCfg['lora_model_dir'], undefined);
  assert.match(ax.launch[0]!, /^alpaca-forge merge --model org\/base --adapter \/adapters\/sft --out \/tmp\/r\/sft-merged && axolotl train /);
  // SFT continuing an adapter keeps lora_model_dir.
  const sft = parse(buildRecipe(base({ config })).files[0]!.content) as Record<string, unknown>;
  assert.equal(sft['lora_model_dir'], '/adapters/sft');
});

test('axolotl IPO is rl: dpo with dpo_loss_type [ipo] (rl: ipo is deprecated)', () => {
  const cfg = parse(buildRecipe(base({ method: 'dpo', dataShape: 'dpo', dpo: { beta: 0.1, loss: 'ipo' } })).files[0]!.content) as Record<string, unknown>;
  assert.equal(cfg['rl'], 'dpo');
  assert.deepEqual(cfg['dpo_loss_type'], ['ipo']);
});

test('a fractional --lora-alpha is refused for a recipe (both tools take an integer)', () => {
  const config = trainConfigSchema.parse({ model: 'm', out: '/tmp/r', loraAlpha: 16.5, valSetSize: 0 });
  assert.throws(() => buildRecipe(base({ config })), /--lora-alpha 16\.5: axolotl takes an integer lora_alpha/);
  assert.throws(() => buildRecipe(base({ config, target: 'llamafactory' })), /llamafactory takes an integer/);
});

test("LLaMA-Factory's alpaca template renders the recipe's data as exactly our Alpaca prompt, with and without an input", async () => {
  const { emitRecipe } = await import('../../src/train/recipes/emit-recipe.js');
  const { formatAlpacaPrompt } = await import('../../src/model/alpaca-prompt.js');
  const root = mkdtempSync(join(tmpdir(), 'forge-recipe-tpl-'));
  const data = join(root, 'train.json');
  const samples = [
    { instruction: 'Reverse the word.', input: 'cat', output: 'tac' },
    { instruction: 'Say hi.', input: '', output: 'Hi!' },
  ];
  writeFileSync(data, JSON.stringify(samples));
  const config = trainConfigSchema.parse({ model: 'm', data, out: join(root, 'out'), valSetSize: 0, batchSize: 4 });
  await emitRecipe(config, { target: 'llamafactory', method: 'sft', gpus: 1, dpo: { beta: 0.1, loss: 'sigmoid' } });
  const info = JSON.parse(readFileSync(join(root, 'out', 'dataset_info.json'), 'utf8')) as Record<string, { file_name: string; columns: Record<string, string> }>;
  const ds = Object.values(info)[0]!;
  const rows = JSON.parse(readFileSync(ds.file_name, 'utf8')) as Array<Record<string, string>>;
  // LLaMA-Factory: alpaca converter (prompt + "\n" + query when there is one), then the alpaca template
  // (system, or its default, + "### Instruction:\n{content}\n\n### Response:\n").
  const lfDefaultSystem = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n';
  const render = (r: Record<string, string>) => {
    const user = r[ds.columns['query']!] ? `${r[ds.columns['prompt']!]}\n${r[ds.columns['query']!]}` : r[ds.columns['prompt']!]!;
    const system = ds.columns['system'] ? r[ds.columns['system']]! : lfDefaultSystem;
    return `${system}### Instruction:\n${user}\n\n### Response:\n`;
  };
  rows.forEach((r, i) => assert.equal(render(r), formatAlpacaPrompt(samples[i]!)));
});

test('--emit-recipe and train refuse an --out that is a file, and the emitter checks --init-adapter, with one-line errors', async () => {
  const { emitRecipe } = await import('../../src/train/recipes/emit-recipe.js');
  const { runTraining } = await import('../../src/train/trainer.js');
  const root = mkdtempSync(join(tmpdir(), 'forge-recipe-out-'));
  const file = join(root, 'taken.txt');
  writeFileSync(file, 'x');
  const data = join(root, 'train.json');
  writeFileSync(data, JSON.stringify([{ instruction: 'a', input: '', output: 'b' }]));
  const opts = { target: 'axolotl' as const, method: 'sft' as const, gpus: 1, dpo: { beta: 0.1, loss: 'sigmoid' as const } };
  await assert.rejects(emitRecipe(trainConfigSchema.parse({ model: 'm', data, out: file, valSetSize: 0, batchSize: 4 }), opts), (e: Error) => e.name === 'UsageError' && /--out .* is a file/.test(e.message));
  await assert.rejects(runTraining(trainConfigSchema.parse({ model: join(root, 'no-model'), data, out: file })), (e: Error) => e.name === 'UsageError' && /--out .* is a file/.test(e.message));
  await assert.rejects(
    emitRecipe(trainConfigSchema.parse({ model: 'm', data, out: join(root, 'r'), initAdapter: join(root, 'missing'), valSetSize: 0, batchSize: 4 }), opts),
    /--init-adapter .*missing: no such directory/,
  );
});
