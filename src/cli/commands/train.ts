import type { Command, CommandContext, OptionSpec, ParsedValues } from '../command.js';
import { flagBool, flagList, flagNumber, flagString } from '../flags.js';
import { configOption, readConfig } from '../config-flags.js';
import { ConfigError, UsageError, exitCodeFor } from '../../errors.js';
import { targetModuleSchema, trainConfigSchema, type TrainConfig, type TrainConfigInput } from '../../config/train.js';
import type { TrainEvent } from '../../events.js';
import type { DpoLoss } from '../../train/recipes/recipe.js';
import type { TrainingMethodName } from '../../train/method.js';

const usage = `usage: alpaca-forge train --model DIR (--data FILE | --run output/NAME) --out DIR [options]
       alpaca-forge train --method dpo --data pairs.jsonl --model DIR --out DIR [--init-adapter SFT_ADAPTER] [--beta 0.1] [--dpo-loss sigmoid|ipo]
       alpaca-forge train --method rm (--run output/NAME | --data pairs.jsonl) --model DIR --out DIR
       alpaca-forge train --method ppo --reward-model RM_DIR (--run output/NAME | --data FILE) --model DIR --out DIR [--init-adapter SFT_ADAPTER]

LoRA fine-tunes a LLaMA-family model on Alpaca data and writes a PEFT adapter (adapter_config.json,
adapter_model.safetensors) into --out, with checkpoints, train_log.jsonl and loss_curve.svg beside it.
Settings come from forge.yaml's train: section; flags override them. Ctrl-C saves a checkpoint; --resume continues.

  --model DIR               base model (Hugging Face directory)
  --data FILE | --run DIR   Alpaca JSON/JSONL, or a run's accepted/kept samples
  --out DIR                 output directory
  --resume                  continue from the newest checkpoint in --out
LoRA:        --lora-r 8  --lora-alpha 16  --lora-dropout 0.05  --target-modules q_proj,v_proj
             (any of q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)  --use-rslora  --init-adapter DIR
Adapter:     --adapter lora|prompt-tuning|p-tuning|prefix-tuning (SFT; default lora)  --num-virtual-tokens 20
             --prompt-init "TEXT" (prompt tuning from the text's embeddings)  --encoder-hidden-size N
             --prefix-projection (prefix tuning through PEFT's MLP); the LoRA flags do not apply to these
             --encoder-reparameterization-type MLP|LSTM  --encoder-num-layers 2 (P-tuning's encoder, PEFT's names)
Data:        --cutoff-len 256  --val-set-size min(2000, 10%) (0 = none)  --train-on-inputs
Optimiser:   --epochs 3  --learning-rate 3e-4  --batch-size 128  --micro-batch-size 4  --warmup-steps 100
             --lr-schedule cosine|linear|constant  --weight-decay 0  --max-grad-norm 1.0  --seed 42  --max-steps 0
Saving:      --save-every 200  --eval-every 200  --keep-checkpoints 3
Runtime:     --backend tensorflow-gpu|tensorflow|webgpu|wasm|cpu  --workers auto|N (threads on CPU backends)
             --base-weights f32|bf16|int8  --gradient-checkpointing auto|on|off
Output:      --json (events as JSON lines on stdout)  --config FILE (default ./forge.yaml)
DPO:         --method dpo trains on preference pairs (export --format dpo or dpo-alpaca); the reference is the
             base plus --init-adapter (frozen), or the bare base; --beta 0.1  --dpo-loss sigmoid|ipo
RM:          --method rm trains a reward model on the same pairs: LoRA + a scalar head on the last token,
             Bradley–Terry loss (a pair's optional "margin" field asks for that gap), saved as a PEFT SEQ_CLS
             adapter with score.weight; curate --reward-model DIR ranks a run's responses with it
PPO:         --method ppo (RLHF) samples responses to the instructions with the policy (base + the LoRA, which
             starts from --init-adapter), scores them with --reward-model (train --method rm), penalises
             β·(log π − log π_ref) against the frozen base + --init-adapter, and updates with PPO's clipped
             objective, a value head and GAE; --batch-size prompts per rollout  --ppo-epochs 4
             --temperature 0.7  --max-new-tokens 64  --init-kl-coef 0.2  --target-kl 6 (adaptive β)  --kl-horizon 10000
             --ppo-variant ppo|rloo|grpo (group baselines, no value head)  --samples-per-prompt 1 (rloo/grpo: 2+)
Hand-off:    --emit-recipe axolotl|llamafactory  writes the same LoRA run as that trainer's config into --out,
             with the command that launches it (one GPU, --gpus N on a node, DeepSpeed) instead of training here;
             (DPO reads pairs from --data: export --format dpo for axolotl, dpo-alpaca for LLaMA-Factory)  --gpus 1`;

type FlagKind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'workers';

/** Every train setting and its flag kind; the flag is the kebab-case key (loraR → --lora-r). */
export const TRAIN_FLAGS: Record<keyof TrainConfig, FlagKind> = {
  model: 'string',
  data: 'string',
  run: 'string',
  out: 'string',
  loraR: 'int',
  loraAlpha: 'number',
  loraDropout: 'number',
  targetModules: 'list',
  useRslora: 'bool',
  initAdapter: 'string',
  cutoffLen: 'int',
  valSetSize: 'int',
  trainOnInputs: 'bool',
  epochs: 'number',
  learningRate: 'number',
  batchSize: 'int',
  microBatchSize: 'int',
  warmupSteps: 'int',
  lrSchedule: 'string',
  weightDecay: 'number',
  maxGradNorm: 'number',
  seed: 'int',
  maxSteps: 'int',
  saveEvery: 'int',
  keepCheckpoints: 'int',
  evalEvery: 'int',
  backend: 'string',
  baseWeights: 'string',
  gradientCheckpointing: 'string',
  workers: 'workers',
  adapter: 'string',
  numVirtualTokens: 'int',
  promptInit: 'string',
  encoderHiddenSize: 'int',
  prefixProjection: 'bool',
  encoderReparameterizationType: 'string',
  encoderNumLayers: 'int',
  rewardModel: 'string',
  ppoVariant: 'string',
  ppoEpochs: 'int',
  samplesPerPrompt: 'int',
  temperature: 'number',
  maxNewTokens: 'int',
  initKlCoef: 'number',
  targetKl: 'number',
  klHorizon: 'number',
};

export const flagName = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const trainOptions: OptionSpec = Object.fromEntries(Object.entries(TRAIN_FLAGS).map(([k, kind]) => [flagName(k), { type: kind === 'bool' ? 'boolean' : 'string' }]));

/**
 * forge.yaml's train: section (or nothing: the schema's defaults) with command-line flags on top, validated by
 * the same schema so a bad flag is reported like a bad field.
 */
export function trainConfigFromFlags(values: ParsedValues, section: TrainConfigInput = {}, only: ReadonlyArray<keyof TrainConfig> = Object.keys(TRAIN_FLAGS) as Array<keyof TrainConfig>): TrainConfig {
  const merged: Record<string, unknown> = { ...section };
  for (const key of only) {
    const kind = TRAIN_FLAGS[key];
    const name = flagName(key);
    let v: unknown;
    if (kind === 'bool') v = flagBool(values, name) ? true : undefined;
    else if (kind === 'int') v = flagNumber(values, name, { integer: true });
    else if (kind === 'number') v = flagNumber(values, name);
    else if (kind === 'list') {
      const list = flagList(values, name);
      for (const m of list ?? []) {
        if (!targetModuleSchema.safeParse(m).success) {
          throw new UsageError(`--${name}: "${m}" is not a projection of LLaMA-family models`, `choose from ${targetModuleSchema.options.join(', ')}`);
        }
      }
      v = list;
    } else if (kind === 'workers') {
      const s = flagString(values, name);
      v = s === undefined || s === 'auto' ? s : flagNumber(values, name, { integer: true, min: 1 });
    } else v = flagString(values, name);
    if (v !== undefined) merged[key] = v;
  }
  const r = trainConfigSchema.safeParse(merged);
  if (!r.success) {
    throw new ConfigError(
      r.error.issues.map((i) => {
        const key = String(i.path[0] ?? '');
        return `train.${i.path.join('.')} (--${flagName(key)}): ${i.message}`;
      }),
      'fix the flag or the train: section of forge.yaml (see `alpaca-forge train --help`)',
    );
  }
  return r.data;
}

/** The train: section of forge.yaml, when the config schema has one. */
export function trainSection(ctx: CommandContext): TrainConfigInput | undefined {
  const { config } = readConfig(ctx);
  return (config as unknown as { train?: TrainConfigInput }).train;
}

/** Writes training events as a live line (terminal), plain lines, or JSON lines. */
export function trainPrinter(mode: 'tty' | 'plain' | 'json', ctx: Pick<CommandContext, 'out' | 'err' | 'writeErr'> & { output: Pick<CommandContext['output'], 'columns'> }, write: (s: string) => void = ctx.writeErr) {
  let live = false;
  return async (e: TrainEvent) => {
    if (mode === 'json') {
      ctx.out(JSON.stringify(e));
      return;
    }
    const { formatTrainEvent, formatStep } = await import('../../train/progress-text.js');
    if (mode === 'tty' && e.type === 'step') {
      const cols = ctx.output.columns;
      write(`\r${formatStep(e).slice(0, cols - 1)}\x1b[K`);
      live = true;
      return;
    }
    const text = formatTrainEvent(e);
    if (text === null) return;
    if (live) {
      write('\n');
      live = false;
    }
    if (e.type === 'done') ctx.out(text);
    else ctx.err(text);
  };
}

export const command: Command = {
  name: 'train',
  summary: 'LoRA fine-tune a base model on a dataset or run',
  usage,
  onInterrupt: 'stopping: a checkpoint of the last completed step is saved; --resume continues from it…',
  options: {
    ...trainOptions,
    resume: { type: 'boolean' },
    json: { type: 'boolean' },
    'emit-recipe': { type: 'string' },
    method: { type: 'string' },
    beta: { type: 'string' },
    'dpo-loss': { type: 'string' },
    gpus: { type: 'string' },
    ...configOption,
  },
  async run(ctx) {
    const config = trainConfigFromFlags(ctx.values, trainSection(ctx));
    const recipeTarget = flagString(ctx.values, 'emit-recipe');
    if (recipeTarget !== undefined) return emitRecipeCommand(ctx, config, recipeTarget);
    const method = await methodOf(ctx);
    const dpo = await dpoSettings(ctx, method);
    if (!config.model) throw new UsageError('--model is required', 'pass --model DIR (a Hugging Face model directory)');
    if (!config.data && !config.run) throw new UsageError('no training data', 'pass --data FILE (Alpaca JSON/JSONL) or --run output/NAME');
    if (!config.out) throw new UsageError('--out is required', 'pass --out DIR for the adapter, checkpoints and logs');
    // The train screen draws each method's figures and its main curve (PPO's: the mean reward).
    if (ctx.terminal) {
      // On a terminal the train screen draws the loss curve, lr, tokens/s, ETA and the plan; q saves and stops.
      const { launchApp } = await import('../../ui/launch.js');
      const forge = readConfig(ctx).config;
      await launchApp({
        start: { kind: 'train', title: `${config.data ?? config.run} → ${config.out}`, config, resume: flagBool(ctx.values, 'resume'), method: dpo ? { name: method, dpo } : { name: method } },
        runsDir: 'output',
        config: forge,
        apiKeyFor: (name) => ctx.env[name] || undefined,
        color: ctx.output.color,
        signal: ctx.signal,
        ...ctx.terminal,
      });
      ctx.err(`adapter and checkpoints in ${config.out}; continue an interrupted run with: alpaca-forge ${ctx.argv.filter((a) => a !== '--resume').join(' ')} --resume`);
      return 0;
    }
    const mode = ctx.output.format;
    const print = trainPrinter(mode, ctx);
    // Events are printed in order even though the printer loads its formatter lazily.
    let chain = Promise.resolve();
    const runOpts = {
      resume: flagBool(ctx.values, 'resume'),
      signal: ctx.signal,
      onEvent: (e: TrainEvent) => {
        chain = chain.then(() => print(e));
      },
    };
    const result = dpo
      ? await (await import('../../train/methods/dpo.js')).runDpoTraining(config, dpo, runOpts)
      : method === 'rm'
        ? await (await import('../../train/methods/rm.js')).runRewardTraining(config, runOpts)
        : method === 'ppo'
          ? await (await import('../../train/methods/ppo.js')).runPpoTraining(config, runOpts)
          : await (await import('../../train/trainer.js')).runTraining(config, runOpts);
    await chain;
    if (result.interrupted && mode !== 'json') {
      const args = ctx.argv.filter((a) => a !== '--resume');
      ctx.err(`resume with: alpaca-forge ${args.join(' ')} --resume`);
    }
    return result.interrupted ? exitCodeFor('interrupted') : 0;
  },
};

/** --method: sft (default), dpo or rm. */
async function methodOf(ctx: CommandContext): Promise<TrainingMethodName> {
  const { TRAINING_METHODS } = await import('../../train/method.js');
  const given = flagString(ctx.values, 'method') ?? 'sft';
  const method = TRAINING_METHODS.find((m) => m === given);
  if (!method) throw new UsageError(`--method: "${given}" is not a training method`, `use one of: ${TRAINING_METHODS.join(', ')}`);
  return method;
}

/** --beta and --dpo-loss: null unless DPO, the DPO settings otherwise. */
async function dpoSettings(ctx: CommandContext, method: TrainingMethodName): Promise<{ beta: number; loss: DpoLoss } | null> {
  const { dpoLossSchema } = await import('../../train/recipes/recipe.js');
  if (method !== 'dpo') {
    for (const f of ['beta', 'dpo-loss']) if (ctx.values[f] !== undefined) throw new UsageError(`--${f} applies to --method dpo`, method === 'sft' ? 'add --method dpo, or drop the flag' : 'drop the flag');
    return null;
  }
  const loss = dpoLossSchema.safeParse(flagString(ctx.values, 'dpo-loss') ?? 'sigmoid');
  if (!loss.success) throw new UsageError(`--dpo-loss: "${flagString(ctx.values, 'dpo-loss')}" is not a DPO loss`, `use one of: ${dpoLossSchema.options.join(', ')}`);
  const beta = flagNumber(ctx.values, 'beta') ?? 0.1;
  if (!(beta > 0)) throw new UsageError('--beta must be positive', 'the DPO paper uses 0.1 (as TRL and LLaMA-Factory do by default)');
  return { beta, loss: loss.data };
}

async function emitRecipeCommand(ctx: CommandContext, config: TrainConfig, target: string): Promise<number> {
  const { recipeTargetSchema } = await import('../../train/recipes/recipe.js');
  const parsedTarget = recipeTargetSchema.safeParse(target);
  if (!parsedTarget.success) throw new UsageError(`--emit-recipe: "${target}" is not a trainer we write recipes for`, `use one of: ${recipeTargetSchema.options.join(', ')}`);
  const method = await methodOf(ctx);
  if (method === 'rm' || method === 'ppo') throw new UsageError('--emit-recipe writes SFT and DPO runs only', `train --method ${method} here, or drop --emit-recipe`);
  const dpo = await dpoSettings(ctx, method);
  const gpus = flagNumber(ctx.values, 'gpus', { integer: true, min: 1 }) ?? 1;
  const { emitRecipe } = await import('../../train/recipes/emit-recipe.js');
  const r = await emitRecipe(config, { target: parsedTarget.data, method: dpo ? 'dpo' : 'sft', gpus, dpo: dpo ?? { beta: 0.1, loss: 'sigmoid' } });
  for (const f of r.files) ctx.err(`wrote ${f}`);
  ctx.err(`data: ${r.dataPath} (${r.records} records)`);
  for (const line of r.launch) ctx.out(line);
  return 0;
}
