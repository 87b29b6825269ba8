import { z } from 'zod';

/** Modules a LoRA adapter can wrap in a LLaMA-family decoder layer (PEFT's names). */
export const targetModuleSchema = z.enum(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);

/**
 * Every `train` setting, its default and what it does. The defaults are alpaca-lora's (r 8, alpha 16, dropout 0.05
 * on q/v, lr 3e-4, batch 128 as micro-batches of 4, cutoff 256, 3 epochs, loss on the response only).
 * forge.yaml holds these under `train:`; command-line flags override them.
 */
export const trainConfigSchema = z
  .object({
  model: z.string().nullable().default(null).describe('base model directory (Hugging Face layout: config.json, *.safetensors, tokenizer files)'),
  data: z.string().nullable().default(null).describe('Alpaca JSON or JSONL file to train on (or use `run`)'),
  run: z.string().nullable().default(null).describe('run directory (output/NAME) whose accepted or kept samples are trained on'),
  out: z.string().nullable().default(null).describe('output directory for the adapter, checkpoints, train_log.jsonl and loss chart'),
  loraR: z.number().int().min(1).default(8).describe('LoRA rank r'),
  loraAlpha: z.number().positive().default(16).describe('LoRA alpha; the update is scaled by alpha/r (alpha/sqrt(r) with useRslora)'),
  loraDropout: z.number().min(0).max(0.99).default(0.05).describe('dropout on the LoRA input during training'),
  targetModules: z.array(targetModuleSchema).min(1).default(['q_proj', 'v_proj']).describe('projections that get an adapter: any of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj'),
  useRslora: z.boolean().default(false).describe('rank-stabilised LoRA: scale by alpha/sqrt(r) instead of alpha/r'),
  initAdapter: z.string().nullable().default(null).describe('existing PEFT adapter directory to continue from (its r, alpha and target modules replace the LoRA settings)'),
  cutoffLen: z.number().int().min(2).default(256).describe('maximum tokens per example (prompt + response + EOS); longer examples are truncated'),
  valSetSize: z.number().int().min(0).nullable().default(null).describe('samples held out for evaluation with a fixed seed; 0 = no evaluation; null = min(2000, 10% of the data)'),
  trainOnInputs: z.boolean().default(false).describe('also put loss on the prompt tokens (default: response tokens only)'),
  epochs: z.number().positive().default(3).describe('passes over the training samples'),
  learningRate: z.number().positive().default(3e-4).describe('peak learning rate'),
  batchSize: z.number().int().min(1).default(128).describe('samples per optimizer step (gradient accumulation over micro-batches)'),
  microBatchSize: z.number().int().min(1).default(4).describe('samples per micro-batch, the unit of gradient accumulation (on wasm one may run as several passes to fit its 4 GB heap)'),
  warmupSteps: z.number().int().min(0).default(100).describe('steps of linear warmup from 0 to the learning rate'),
  lrSchedule: z.enum(['cosine', 'linear', 'constant']).default('cosine').describe('learning-rate decay after warmup'),
  weightDecay: z.number().min(0).default(0).describe('AdamW decoupled weight decay'),
  maxGradNorm: z.number().min(0).default(1).describe('global gradient-norm clipping threshold; 0 = no clipping'),
  seed: z.number().int().min(0).default(42).describe('seed for the validation split, shuffling, LoRA init and dropout'),
  maxSteps: z.number().int().min(0).default(0).describe('total optimizer steps, overriding epochs (the data is cycled as needed), as in Hugging Face TrainingArguments; 0 = run all epochs'),
  saveEvery: z.number().int().min(0).default(200).describe('write a checkpoint every N steps; 0 = only at the end or on Ctrl-C'),
  keepCheckpoints: z.number().int().min(1).default(3).describe('newest checkpoints kept in OUT/checkpoints (older ones are deleted)'),
  evalEvery: z.number().int().min(0).default(200).describe('evaluate on the validation set every N steps (and at the end); 0 = only at the end'),
  backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'native', 'wasm', 'cpu']).default('auto').describe('TensorFlow.js backend'),
  baseWeights: z.enum(['f32', 'bf16', 'int8']).default('f32').describe('storage of the frozen projection matrices: f32, bf16 (half the bytes, lossless for bf16 checkpoints) or int8 (a quarter, absmax per output channel with outlier features in f32); LoRA, optimizer and activations stay f32'),
  gradientCheckpointing: z.enum(['auto', 'on', 'off']).default('auto').describe('keep only each layer\'s input and rebuild its internals in the backward pass; auto = on where the plan says activations dominate memory (GPU backends)'),
  workers: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto').describe('data-parallel worker threads on CPU backends (one TensorFlow.js instance each); auto = one per core'),
  adapter: z.enum(['lora', 'prompt-tuning', 'p-tuning', 'prefix-tuning']).default('lora').describe("PEFT adapter type: lora, or a prompt-learning one that adds virtual tokens (prompt-tuning, p-tuning, prefix-tuning)"),
  numVirtualTokens: z.number().int().min(1).default(20).describe('prompt-learning adapters: virtual tokens added in front of every sequence (PEFT num_virtual_tokens)'),
  promptInit: z.string().min(1).nullable().default(null).describe("prompt tuning: initialise the virtual tokens from this text's token embeddings (PEFT's TEXT init); null = random"),
  encoderHiddenSize: z.number().int().min(1).nullable().default(null).describe("P-tuning's MLP and prefix tuning's projection: hidden width; null = PEFT's default (token_dim)"),
  prefixProjection: z.boolean().default(false).describe('prefix tuning: reparameterise the prefix through a two-layer MLP (PEFT prefix_projection)'),
  encoderReparameterizationType: z.enum(['MLP', 'LSTM']).default('MLP').describe("P-tuning's encoder (PEFT encoder_reparameterization_type): MLP, or a bidirectional LSTM with an MLP head"),
  encoderNumLayers: z.number().int().min(1).default(2).describe("P-tuning's LSTM: stacked layers (PEFT encoder_num_layers)"),
  rewardModel: z.string().nullable().default(null).describe('PPO: the reward model directory (written by `train --method rm`) that scores the rollouts'),
  ppoVariant: z.enum(['ppo', 'rloo', 'grpo']).default('ppo').describe('PPO: ppo (value head + GAE), or rloo / grpo (no value head: group baselines over samplesPerPrompt responses to each prompt)'),
  ppoEpochs: z.number().int().min(1).default(4).describe("PPO: optimisation epochs over each rollout batch (TRL's ppo_epochs)"),
  samplesPerPrompt: z.number().int().min(1).default(1).describe('PPO: responses sampled per prompt (rloo and grpo need at least 2; their group baseline is over them)'),
  temperature: z.number().positive().default(0.7).describe('PPO: sampling temperature of the rollouts (the log-probs are taken at the same temperature, as TRL does)'),
  maxNewTokens: z.number().int().min(1).default(64).describe('PPO: longest sampled response, in tokens'),
  initKlCoef: z.number().min(0).default(0.2).describe("PPO: the KL penalty's initial coefficient β (TRL's init_kl_coef)"),
  targetKl: z.number().positive().nullable().default(6).describe("PPO: the KL (nats per response) the adaptive controller steers β toward (Ziegler et al.); null = a fixed β"),
  klHorizon: z.number().positive().default(10000).describe("PPO: the adaptive KL controller's horizon, in responses (TRL's horizon)"),
  })
  .strict();

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;
export type TargetModuleName = z.output<typeof targetModuleSchema>;
