import type { Command } from '../command.js';
import { flagBool } from '../flags.js';
import { configOption } from '../config-flags.js';
import { UsageError } from '../../errors.js';
import { TRAIN_FLAGS, flagName, trainConfigFromFlags, trainSection } from './train.js';
import type { TrainConfig } from '../../train/config.js';

const usage = `usage: alpaca-forge plan --model DIR [--lora-r 8 --target-modules q_proj,v_proj --micro-batch-size 4 --cutoff-len 256 --workers N] [--json]

Before training: total and trainable parameters, and the memory this LoRA run needs (frozen weights, LoRA
parameters, gradients, AdamW state, activations of one micro-batch), next to a full fine-tune with Adam at fp32
and fp16 weights. Reads only config.json. Settings come from forge.yaml's train: section; flags override them.`;

const PLAN_KEYS: Array<keyof TrainConfig> = ['model', 'loraR', 'targetModules', 'microBatchSize', 'cutoffLen', 'workers'];

export const command: Command = {
  name: 'plan',
  summary: 'parameter and memory plan of a fine-tune before it starts',
  usage,
  options: {
    ...Object.fromEntries(PLAN_KEYS.map((k) => [flagName(k), { type: TRAIN_FLAGS[k] === 'bool' ? ('boolean' as const) : ('string' as const) }])),
    json: { type: 'boolean' },
    ...configOption,
  },
  async run(ctx) {
    const config = trainConfigFromFlags(ctx.values, trainSection(ctx), PLAN_KEYS);
    if (!config.model) throw new UsageError('--model is required', 'pass --model DIR (a Hugging Face model directory)');
    const { loadModelConfig } = await import('../../model/config.js');
    const { planMemory, formatPlan } = await import('../../train/plan.js');
    const mcfg = loadModelConfig(config.model);
    const workers = config.workers === 'auto' ? 1 : config.workers;
    const plan = planMemory(mcfg, { r: config.loraR, targetModules: config.targetModules, microBatchSize: config.microBatchSize, cutoffLen: config.cutoffLen, workers });
    if (flagBool(ctx.values, 'json')) {
      ctx.out(JSON.stringify({ model: config.model, r: config.loraR, targetModules: config.targetModules, microBatchSize: config.microBatchSize, cutoffLen: config.cutoffLen, ...plan }));
      return 0;
    }
    const header = `${config.model}: ${mcfg.modelType}, ${mcfg.numLayers} layers, hidden ${mcfg.hiddenSize}, vocab ${mcfg.vocabSize}; LoRA r=${config.loraR} on ${config.targetModules.join(',')}, micro-batch ${config.microBatchSize} × ${config.cutoffLen} tokens`;
    for (const line of formatPlan(plan, header)) ctx.out(line);
    return 0;
  },
};
