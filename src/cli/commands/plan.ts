import type { Command, ParsedValues } from '../command.js';
import { flagBool, flagString } from '../flags.js';
import { configOption } from '../config-flags.js';
import { UsageError } from '../../errors.js';
import { TRAIN_FLAGS, flagName, trainConfigFromFlags, trainSection } from './train.js';
import type { TrainConfig } from '../../config/train.js';
import type { ModelConfig } from '../../model/config.js';
import type { DevicePlan } from '../../train/engines/device-plan.js';
import { BASE_WEIGHTS, type BaseWeights } from '../../model/base-weights.js';

/** The adapter's limits from flags (no device needed) or from the adapter itself (starts the webgpu backend). */
interface BaseWeightsChoice {
  totalBytes: number;
  gradientCheckpointing: boolean;
  fitsMemory: boolean | null;
}

const choiceOf = (p: DevicePlan): BaseWeightsChoice => ({ totalBytes: p.totalBytes, gradientCheckpointing: p.gradientCheckpointing, fitsMemory: p.fitsMemory });

async function planForDevice(values: ParsedValues, mcfg: ModelConfig, config: TrainConfig): Promise<{ adapter: string; plan: DevicePlan; choices: Record<BaseWeights, BaseWeightsChoice> }> {
  const size = (flag: string) => {
    const v = flagString(values, flag);
    return v === undefined ? undefined : parseByteSize(flag, v);
  };
  const binding = size('max-binding-size');
  const buffer = size('max-buffer-size');
  const gpuMemory = size('gpu-memory') ?? null;
  let adapter: string;
  let limits;
  if (binding !== undefined || buffer !== undefined) {
    const b = (binding ?? buffer) as number;
    limits = { maxStorageBufferBindingSize: b, maxBufferSize: buffer ?? b };
    adapter = 'limits given on the command line';
  } else {
    const { selectBackend } = await import('../../model/backend.js');
    let info;
    try {
      info = await selectBackend('webgpu');
    } catch (e) {
      const err = e as UsageError;
      throw new UsageError(`plan --backend webgpu: ${err.message}`, 'plan without a device by giving the adapter\'s limits: --max-binding-size SIZE (and --max-buffer-size SIZE)');
    }
    if (!info.limits) throw new UsageError('plan --backend webgpu: the webgpu backend reported no limits', 'give them with --max-binding-size SIZE');
    limits = info.limits;
    adapter = info.device;
  }
  const gradientCheckpointing = config.gradientCheckpointing === 'auto' ? 'auto' : config.gradientCheckpointing === 'on';
  const { planDevice: plan } = await import('../../train/engines/device-plan.js');
  const forWeights = (baseWeights: BaseWeights) =>
    plan(mcfg, { r: config.loraR, targetModules: config.targetModules, microBatchSize: config.microBatchSize, cutoffLen: config.cutoffLen, limits, gpuMemory, baseWeights, gradientCheckpointing });
  const choices = Object.fromEntries(BASE_WEIGHTS.map((b) => [b, choiceOf(forWeights(b))])) as Record<BaseWeights, BaseWeightsChoice>;
  return { adapter, plan: forWeights(config.baseWeights), choices };
}

const usage = `usage: alpaca-forge plan --model DIR [--lora-r 8 --target-modules q_proj,v_proj --micro-batch-size 4 --cutoff-len 256 --workers N] [--json]
       alpaca-forge plan --model DIR --method sft|dpo|rm|ppo [--max-new-tokens 64 --batch-size N --samples-per-prompt K] [--backend B] [--gpu-memory SIZE]
       alpaca-forge plan --model DIR --backend webgpu [--gpu-memory 141GiB] [--max-binding-size SIZE --max-buffer-size SIZE]
                         [--base-weights f32|bf16|int8] [--gradient-checkpointing auto|on|off]

Before training: total and trainable parameters, and the memory this LoRA run needs (frozen weights, LoRA
parameters, gradients, AdamW state, activations of one micro-batch), next to a full fine-tune with Adam at fp32
and fp16 weights, and the trainable parameters of each adapter type (LoRA, prompt tuning, P-tuning, prefix
tuning; --num-virtual-tokens 20, --encoder-hidden-size N). Reads only config.json. Settings come from forge.yaml's train: section; flags override them.

With --backend webgpu it also shows what fits on the device in float32: the largest single tensor against the
adapter's buffer binding limit and the passes a micro-batch runs as. The limits come from the adapter (the
webgpu backend is started to read them) unless --max-binding-size (and --max-buffer-size, default: the same)
give them, which plans without a device. WebGPU does not report memory: --gpu-memory SIZE checks the fit.
--base-weights stores the frozen projections in bf16 (2 B/param) or int8 (~1 B/param) instead of f32 (4 B);
the device section shows the total for each choice. Gradient checkpointing (auto: on where activations
outweigh the rest) keeps only layer inputs and rebuilds each layer in the backward pass.
Sizes are bytes or a number with KiB, MiB, GiB (also KB, MB, GB: powers of 1000).

--method counts each training method's passes through the model and what they hold at the peak: DPO's
reference pass (once per run, cached) and its policy passes (2 sequences per pair, one at a time); RM's scalar
head (score.weight) and its pairs; PPO's policy, frozen reference, reward model (its adapter and score head) and
value head, the rollout's KV cache (one response of --cutoff-len + --max-new-tokens positions at a time) and its
buffers (--batch-size prompts × --samples-per-prompt responses), as train --method ppo runs them. It says whether that fits the backend: wasm's 4 GiB heap, the
device's --gpu-memory, or this machine's free memory (with --backend auto: each of them).`;

const PLAN_KEYS: Array<keyof TrainConfig> = ['model', 'loraR', 'targetModules', 'microBatchSize', 'batchSize', 'cutoffLen', 'maxNewTokens', 'samplesPerPrompt', 'ppoVariant', 'workers', 'backend', 'numVirtualTokens', 'encoderHiddenSize', 'baseWeights', 'gradientCheckpointing'];

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };

/** "141GiB", "80 GB", "134217728" → bytes; a UsageError naming the flag otherwise. */
export function parseByteSize(flag: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(value);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  const bytes = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
  if (!(bytes > 0)) throw new UsageError(`--${flag}: "${value}" is not a size`, 'give bytes or a number with a unit, e.g. 141GiB, 80GB, 128MiB');
  return bytes;
}

/** --method (and PPO's rollout flags): the method's passes and peak memory, and whether it fits each backend in question. */
async function planForMethod(values: ParsedValues, mcfg: ModelConfig, config: TrainConfig, o: { workers: number; layouts: 1 | 2 }) {
  const name = flagString(values, 'method');
  for (const f of ['max-new-tokens', 'samples-per-prompt', 'ppo-variant']) {
    if (values[f] !== undefined && name !== 'ppo') throw new UsageError(`--${f} applies to plan --method ppo`, 'add --method ppo, or drop the flag');
  }
  if (name === undefined) return null;
  const { PLANNED_METHODS, planMethod, backendBudget, methodFits } = await import('../../train/engines/method-plan.js');
  const method = PLANNED_METHODS.find((m) => m === name);
  if (!method) throw new UsageError(`--method: "${name}" is not a training method`, `use one of: ${PLANNED_METHODS.join(', ')}`);
  const ppo = {
    maxNewTokens: config.maxNewTokens,
    rolloutBatch: config.batchSize,
    samplesPerPrompt: config.ppoVariant === 'ppo' ? 1 : config.samplesPerPrompt,
    valueHead: config.ppoVariant === 'ppo',
  };
  const opts = { r: config.loraR, targetModules: config.targetModules, microBatchSize: config.microBatchSize, cutoffLen: config.cutoffLen, workers: o.workers, baseWeights: config.baseWeights, layouts: o.layouts, gradientCheckpointing: config.gradientCheckpointing === 'on' };
  const p = planMethod(mcfg, method, opts, ppo);
  const gpuMemory = flagString(values, 'gpu-memory') === undefined ? null : parseByteSize('gpu-memory', flagString(values, 'gpu-memory')!);
  const { freemem } = await import('node:os');
  const backends = config.backend === 'auto' ? ['wasm', 'cpu', ...(gpuMemory !== null ? ['webgpu'] : [])] : [config.backend];
  const fits = backends.map((backend) => {
    const budget = backendBudget(backend, { gpuMemory, freeMemory: freemem() });
    return { backend, budgetBytes: budget.bytes, budget: budget.source, ...methodFits(p, budget) };
  });
  return { ...p, ...(method === 'ppo' ? { ppo } : {}), fits };
}

export const command: Command = {
  name: 'plan',
  summary: 'parameter and memory plan of a fine-tune before it starts',
  usage,
  options: {
    ...Object.fromEntries(PLAN_KEYS.map((k) => [flagName(k), { type: TRAIN_FLAGS[k] === 'bool' ? ('boolean' as const) : ('string' as const) }])),
    json: { type: 'boolean' },
    'gpu-memory': { type: 'string' },
    'max-binding-size': { type: 'string' },
    'max-buffer-size': { type: 'string' },
    method: { type: 'string' },
    ...configOption,
  },
  async run(ctx) {
    const config = trainConfigFromFlags(ctx.values, trainSection(ctx), PLAN_KEYS);
    if (!config.model) throw new UsageError('--model is required', 'pass --model DIR (a Hugging Face model directory)');
    const { loadModelConfig } = await import('../../model/config.js');
    const { planMemory, formatPlan, formatBytes } = await import('../../train/engines/plan.js');
    const mcfg = loadModelConfig(config.model);
    const workers = config.workers === 'auto' ? 1 : config.workers;
    // GPU and libtensorflow backends keep one layout of each weight; wasm keeps float32 weights twice when training.
    const layouts = config.backend === 'webgpu' || config.backend.startsWith('tensorflow') ? 1 : 2;
    const plan = planMemory(mcfg, {
      r: config.loraR,
      targetModules: config.targetModules,
      microBatchSize: config.microBatchSize,
      cutoffLen: config.cutoffLen,
      workers,
      baseWeights: config.baseWeights,
      layouts,
      gradientCheckpointing: config.gradientCheckpointing === 'on',
    });
    const device = config.backend === 'webgpu' ? await planForDevice(ctx.values, mcfg, config) : null;
    const { adapterParamTable } = await import('../../train/adapters/adapter-plan.js');
    const adapters = adapterParamTable(mcfg, { r: config.loraR, targetModules: config.targetModules, numVirtualTokens: config.numVirtualTokens, encoderHiddenSize: config.encoderHiddenSize });
    const methodPlan = await planForMethod(ctx.values, mcfg, config, { workers, layouts });
    if (flagBool(ctx.values, 'json')) {
      ctx.out(JSON.stringify({ model: config.model, r: config.loraR, targetModules: config.targetModules, microBatchSize: config.microBatchSize, cutoffLen: config.cutoffLen, ...plan, adapters, ...(device ? { device: { adapter: device.adapter, ...device.plan, baseWeightsChoices: device.choices } } : {}), ...(methodPlan ? { method: methodPlan } : {}) }));
      return 0;
    }
    const header = `${config.model}: ${mcfg.modelType}, ${mcfg.numLayers} layers, hidden ${mcfg.hiddenSize}, vocab ${mcfg.vocabSize}; LoRA r=${config.loraR} on ${config.targetModules.join(',')}, micro-batch ${config.microBatchSize} × ${config.cutoffLen} tokens`;
    for (const line of formatPlan(plan, header)) ctx.out(line);
    const { formatCount } = await import('../../train/engines/plan.js');
    ctx.out('');
    ctx.out('trainable parameters by adapter type (train --adapter; parameters + gradients + AdamW state in float32):');
    for (const a of adapters) ctx.out(`  ${a.adapter.padEnd(14)} ${formatCount(a.trainableParams).padStart(8)}  ${formatBytes(a.trainingBytes).padStart(9)}  ${a.detail}`);
    if (device) {
      const { formatDevicePlan } = await import('../../train/engines/device-plan.js');
      ctx.out('');
      for (const line of formatDevicePlan(device.plan, device.adapter)) ctx.out(line);
      const fit = (c: BaseWeightsChoice) => (c.fitsMemory === null ? '' : c.fitsMemory ? ', fits' : ', does NOT fit');
      ctx.out(`  each --base-weights: ${BASE_WEIGHTS.map((b) => `${b} ${formatBytes(device.choices[b].totalBytes)}${device.choices[b].gradientCheckpointing ? ' (checkpointed)' : ''}${fit(device.choices[b])}`).join('; ')}`);
    }
    if (methodPlan) {
      const { formatMethodPlan } = await import('../../train/engines/method-plan-text.js');
      ctx.out('');
      for (const line of formatMethodPlan(methodPlan)) ctx.out(line);
    }
    return 0;
  },
};
