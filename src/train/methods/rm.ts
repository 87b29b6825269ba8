import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { ModelError } from '../../errors.js';
import type { TrainConfig } from '../../config/train.js';
import type { LlamaModel } from '../../model/load.js';
import { encodePromptResponse } from '../../model/encode-example.js';
import type { Tokenizer } from '../../model/tokenizer.js';
import { LoraRuntime, isCpuBackendName } from '../adapters/lora.js';
import { DeviceAdamW } from '../engines/device-update.js';
import { rewardDeviceStep } from './rm-device.js';
import type { NamedTensor } from '../adapters/peft-files.js';
import { StepAborted } from '../engines/grad-engine.js';
import { explainBackendError } from '../engines/gradients.js';
import { leanVariableGrads } from '../engines/lean-grads.js';
import { hostUpdate } from '../host-update.js';
import type { MethodSession, TrainingMethod } from '../method.js';
import { mixSeed } from '../rng.js';
import { runTrainer, type TrainResult, type TrainRunOptions } from '../run-trainer.js';
import type { PreferencePair } from './dpo-data.js';
import { readPairSource } from './dpo.js';
import { SCORE_WEIGHT, rewardTensor, sequenceRewards } from './reward-head.js';
import { rewardLogFields, rewardPairLoss, summariseRewardPairs, type RewardPairLoss } from './rm-loss.js';

/** A pair as the reward model reads it: prompt + response (+ EOS) per side, and the margin the pair asks for. */
export interface EncodedRewardPair {
  chosen: number[];
  rejected: number[];
  margin: number;
}

export function encodeRewardPairs(tok: Tokenizer, pairs: readonly PreferencePair[], cutoffLen: number): { examples: EncodedRewardPair[]; dropped: number } {
  const examples: EncodedRewardPair[] = [];
  for (const p of pairs) {
    const side = (response: string) => encodePromptResponse(tok, p.prompt, response, { cutoffLen, addEos: true }).inputIds;
    const chosen = side(p.chosen);
    const rejected = side(p.rejected);
    // Cut to the same tokens, the two sides can no longer be told apart: the pair teaches nothing.
    if (chosen.length === rejected.length && chosen.every((id, i) => id === rejected[i])) continue;
    examples.push({ chosen, rejected, margin: p.margin ?? 0 });
  }
  return { examples, dropped: pairs.length - examples.length };
}

/**
 * The gradient of the mean Bradley–Terry loss over `pairs`, w.r.t. the LoRA variables and the score head. The loss
 * depends on a sequence only through its reward, so ∇L = Σ (∂L/∂r_c ∇r_c + ∂L/∂r_r ∇r_r): one forward+backward per
 * sequence (with this step's dropout), one pair held at a time.
 */
export async function rewardStepGradients(
  model: LlamaModel,
  lora: LoraRuntime,
  score: tf.Variable,
  pairs: readonly EncodedRewardPair[],
  dropoutSeed: (pair: number, side: 0 | 1) => number,
): Promise<{ grads: Float32Array[]; pairs: RewardPairLoss[]; tokens: number }> {
  const vars = [...lora.variables, score];
  const sums = vars.map((v) => new Float64Array(v.size));
  const losses: RewardPairLoss[] = [];
  let tokens = 0;
  const pass = async (seq: number[], seed: number) => {
    const { value, grads } = leanVariableGrads(() => tf.sum(rewardTensor(model, [seq], score, lora.hook({ dropoutSeed: seed }))) as tf.Scalar, vars);
    try {
      return { reward: ((await value.data()) as Float32Array)[0]!, grads: (await Promise.all(grads.map((g) => g.data()))) as Float32Array[] };
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  };
  for (const [k, pair] of pairs.entries()) {
    const c = await pass(pair.chosen, dropoutSeed(k, 0));
    const r = await pass(pair.rejected, dropoutSeed(k, 1));
    tokens += pair.chosen.length + pair.rejected.length;
    const l = rewardPairLoss(c.reward, r.reward, pair.margin);
    losses.push(l);
    const wc = l.dChosen / pairs.length;
    const wr = l.dRejected / pairs.length;
    sums.forEach((s, v) => {
      const gc = c.grads[v]!;
      const gr = r.grads[v]!;
      for (let i = 0; i < s.length; i++) s[i] = s[i]! + wc * gc[i]! + wr * gr[i]!;
    });
  }
  return { grads: sums.map((s) => Float32Array.from(s)), pairs: losses, tokens };
}

/**
 * The score head starts at zero (HF draws it from normal(0, 0.02)): every pair then ties, so the first loss is
 * exactly ln 2 and the held-out accuracy starts at 50%, whatever the seed — the reward model starts indifferent,
 * as a fresh LoRA (B = 0) starts as the base. The head's gradient is the hidden state, so it moves at step 1.
 */
export function initScoreHead(hiddenSize: number): NamedTensor {
  return { name: SCORE_WEIGHT, shape: [1, hiddenSize], data: new Float32Array(hiddenSize) };
}

/**
 * Reward modelling (TRL's RewardTrainer, InstructGPT's RM): the base model plus a LoRA adapter plus a scalar head
 * on the last non-pad token, trained on preference pairs with the Bradley–Terry loss. The output is a PEFT adapter
 * with task_type SEQ_CLS and the head as modules_to_save, as AutoModelForSequenceClassification + PeftModel load it.
 */
export const rmMethod: TrainingMethod<PreferencePair, EncodedRewardPair> = {
  name: 'rm',
  unit: 'pairs',
  settings: { method: 'rm' },
  metadata: { method: 'rm' },
  taskType: 'SEQ_CLS',
  workers: false,
  evalAtStart: true,
  read: readPairSource,
  encode: (tok, items, config) => encodeRewardPairs(tok, items, config.cutoffLen),
  fingerprint(train, val) {
    const h = createHash('sha256');
    for (const p of [...train, ...val]) h.update(JSON.stringify([p.chosen, p.rejected, p.margin]));
    return h.digest('hex').slice(0, 16);
  },
  length: (p) => Math.max(p.chosen.length, p.rejected.length),
  tokens: (p) => ({ input: p.chosen.length + p.rejected.length, response: p.chosen.length + p.rejected.length }),
  microBatchSize: (config) => config.batchSize,
  microBatchesPerStep: (config, n) => 2 * Math.min(config.batchSize, n),
  extraParams: (mcfg) => [initScoreHead(mcfg.hiddenSize)],
  async start(ctx): Promise<MethodSession> {
    const { config, train, val, params, opt } = ctx;
    const model = ctx.model as LlamaModel;
    const lora = new LoraRuntime(ctx.weights);
    const head = ctx.extras[0]!;
    const score = tf.variable(tf.tensor1d(head.data), true);
    const nLora = params.length - 1;
    const assign = () => {
      lora.assign(params.slice(0, nLora));
      score.assign(tf.tensor1d(params[nLora]!));
    };
    // GPU backends: the step stays on the device (the variables hold the parameters; sync() reads them back).
    let adamw: DeviceAdamW | null = null;
    if (!isCpuBackendName(ctx.backend.name)) {
      assign();
      adamw = new DeviceAdamW([...lora.variables, score], params, opt);
    }
    const maxSeqLen = [...train, ...val].reduce((m, p) => Math.max(m, p.chosen.length, p.rejected.length), 1);
    const checkLoss = (loss: number, step: number) => {
      if (!Number.isFinite(loss)) throw new ModelError(`reward-model loss became ${loss} at step ${step}`, 'lower --learning-rate, and resume from the last checkpoint with --resume');
    };
    return {
      maxPassTokens: null,
      async step(groups, at, signal) {
        const order = groups.flat();
        const dropoutSeed = (k: number, side: 0 | 1) => mixSeed(config.seed, 0x5e3, at.step - 1, k, side);
        if (adamw) {
          const d = await rewardDeviceStep(model, lora, score, adamw, order.map((i) => train[i]!), { dropoutSeed, maxGradNorm: config.maxGradNorm, lr: at.lr, maxSeqLen, checkLoss: (p) => checkLoss(summariseRewardPairs(p).loss, at.step), ...(signal ? { signal } : {}) });
          const m = summariseRewardPairs(d.pairs);
          return { loss: m.loss, gradNorm: d.gradNorm, tokens: d.tokens, log: rewardLogFields(m), dpo: m };
        }
        assign();
        let r;
        try {
          r = await rewardStepGradients(model, lora, score, order.map((i) => train[i]!), dropoutSeed);
        } catch (e) {
          throw explainBackendError(e);
        }
        const m = summariseRewardPairs(r.pairs);
        checkLoss(m.loss, at.step);
        const gradNorm = hostUpdate(params, r.grads, opt, config.maxGradNorm, at.lr);
        return { loss: m.loss, gradNorm, tokens: r.tokens, log: rewardLogFields(m), dpo: m };
      },
      async evaluate(signal) {
        if (!val.length) return null;
        if (!adamw) assign();
        const seqs = val.flatMap((p) => [p.chosen, p.rejected]);
        const rewards: number[] = [];
        for (let i = 0; i < seqs.length; i += 8) {
          if (signal?.aborted) throw new StepAborted();
          rewards.push(...(await sequenceRewards(model, seqs.slice(i, i + 8), score, lora.hook())));
        }
        const m = summariseRewardPairs(val.map((p, i) => rewardPairLoss(rewards[2 * i]!, rewards[2 * i + 1]!, p.margin)));
        return { loss: m.loss, tokens: 0, log: rewardLogFields(m), dpo: m };
      },
      sync: async () => adamw?.sync(),
      async close() {
        adamw?.dispose();
        lora.dispose();
        score.dispose();
      },
    };
  },
};

/** `train --method rm`: a reward model through the trainer skeleton. */
export function runRewardTraining(config: TrainConfig, opts: TrainRunOptions = {}): Promise<TrainResult> {
  return runTrainer(config, rmMethod, opts);
}
