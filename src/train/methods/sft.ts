import type { TrainConfig } from '../../config/train.js';
import type { BackendName } from '../../model/backend.js';
import type { LlamaModel } from '../../model/load.js';
import { IGNORE_INDEX, type LabelledBatch } from '../../model/loss.js';
import type { Sample } from '../../data/sample.js';
import { LoraRuntime, isCpuBackendName } from '../adapters/lora.js';
import type { AdapterRuntime } from '../adapters/adapter-runtime.js';
import { PromptRuntime } from '../adapters/prompt-runtime.js';
import { passTokensFor } from '../engines/device-plan.js';
import { DeviceStepper } from '../engines/device-stepper.js';
import type { MicroBatch } from '../engines/gradients.js';
import { HostStepper } from '../engines/host-stepper.js';
import { LocalGradEngine } from '../engines/local-engine.js';
import type { TrainStepper } from '../engines/train-stepper.js';
import { WorkerGradEngine } from '../engines/worker-engine.js';
import type { MethodSession, TrainingMethod } from '../method.js';
import { oversizedRecordsWarning } from '../record-size.js';
import { mixSeed } from '../rng.js';
import { encodeTrainingSamples, fingerprintExamples, loadTrainingSamples, type EncodedExample } from './sft-data.js';

/**
 * Supervised fine-tuning (alpaca-lora): the loss is Σ NLL over every response token of the accumulated batch ÷
 * their count. Its gradients add up across micro-batches and threads, so it runs on a stepper: host arrays (CPU
 * backends, worker threads) or on the device (GPU backends).
 */
export const sftMethod: TrainingMethod<Sample, EncodedExample> = {
  name: 'sft',
  unit: 'samples',
  settings: {},
  workers: true,
  evalAtStart: false,
  async read(config) {
    const { samples, label } = await loadTrainingSamples(config);
    const big = oversizedRecordsWarning(samples.map((s) => s.instruction.length + s.input.length + s.output.length), label, config.cutoffLen);
    return { items: samples, label, warnings: big ? [big] : [] };
  },
  encode: (tok, items, config, label) => encodeTrainingSamples(tok, items, { cutoffLen: config.cutoffLen, trainOnInputs: config.trainOnInputs, label }),
  // The training examples only: checkpoints written before the skeleton identify their data the same way.
  fingerprint: (train) => fingerprintExamples(train),
  length: (e) => e.inputIds.length,
  tokens: (e) => ({ input: e.inputIds.length, response: e.lossTokens }),
  microBatchSize: (config) => config.microBatchSize,
  microBatchesPerStep: (config, n) => Math.ceil(Math.min(config.batchSize, n) / config.microBatchSize),
  async start(ctx): Promise<MethodSession> {
    const { config, train, val, weights, params, opt } = ctx;
    // Virtual tokens lengthen every pass; prompt tuning and P-tuning also put the first label in the loss (PEFT
    // prepends −100 labels, so the last virtual position predicts token 0: it counts where that label is kept).
    const virtual = ctx.prompt ? ctx.prompt.spec.numVirtualTokens : 0;
    const firstLabel = (e: EncodedExample) => (ctx.prompt && ctx.prompt.spec.kind !== 'prefix-tuning' && e.labels[0] !== IGNORE_INDEX ? 1 : 0);
    const lossTokensOf = (e: EncodedExample) => e.lossTokens + firstLabel(e);
    const longest = virtual + [...train, ...val].reduce((m, e) => Math.max(m, e.inputIds.length), 0);
    const passes = passTokensFor(ctx.mcfg, ctx.backend, { r: weights.spec.r, targetModules: weights.spec.targetModules, seqLen: longest, baseWeights: config.baseWeights, gradientCheckpointing: config.gradientCheckpointing });
    const maxPassTokens = passes.maxPassTokens;
    if (ctx.model) ctx.model.gradientCheckpointing = passes.gradientCheckpointing;
    ctx.warnings.push(...passes.warnings);
    if ((ctx.backend.name === 'wasm' || ctx.backend.name === 'native') && maxPassTokens < longest) {
      ctx.warnings.push(`${ctx.modelDir} with ${longest}-token examples probably does not fit wasm's 4 GB memory per worker (estimate: ${maxPassTokens} tokens per pass); if it aborts, lower --cutoff-len or use a smaller model or the tensorflow backend`);
    }
    let lora: AdapterRuntime | null = null;
    const runtime = (): AdapterRuntime => (ctx.prompt ? new PromptRuntime(ctx.prompt) : new LoraRuntime(weights));
    let stepper: TrainStepper;
    if (ctx.workers > 1) {
      for (const w of ctx.warnings.splice(0)) ctx.emit({ type: 'warning', message: w });
      ctx.emit({ type: 'phase', phase: 'starting-workers', detail: `${ctx.workers} workers` });
      const started = await WorkerGradEngine.start(WorkerGradEngine.init(ctx.modelDir, ctx.backend.name as BackendName, weights, maxPassTokens, { baseWeights: config.baseWeights, gradientCheckpointing: passes.gradientCheckpointing }), ctx.workers);
      stepper = new HostStepper(started.engine, params, opt, config.maxGradNorm);
    } else if (isCpuBackendName(ctx.backend.name)) {
      lora = runtime();
      stepper = new HostStepper(new LocalGradEngine(ctx.model as LlamaModel, lora, maxPassTokens), params, opt, config.maxGradNorm);
    } else {
      lora = runtime();
      stepper = new DeviceStepper(ctx.model as LlamaModel, lora, params, opt, { maxGradNorm: config.maxGradNorm, maxPassTokens, maxSeqLen: longest - virtual });
    }
    const evalTokens = val.reduce((n, e) => n + lossTokensOf(e), 0);
    return {
      maxPassTokens: Number.isFinite(maxPassTokens) ? maxPassTokens : null,
      async step(groups, at, signal) {
        const micro: MicroBatch[] = groups.map((idx, k) => ({
          inputIds: idx.map((i) => train[i]!.inputIds),
          labels: idx.map((i) => train[i]!.labels),
          dropoutSeed: mixSeed(config.seed, 0xd409, at.step - 1, k),
        }));
        const lossTokens = groups.flat().reduce((n, i) => n + lossTokensOf(train[i]!), 0);
        const tokens = groups.flat().reduce((n, i) => n + train[i]!.inputIds.length, 0);
        const { loss, gradNorm } = await stepper.step(micro, { step: at.step, lossTokens, lr: at.lr }, signal);
        return { loss, gradNorm, tokens };
      },
      async evaluate(signal) {
        if (!val.length) return null;
        const sums = await stepper.evaluate(evalBatches(val, config.microBatchSize), signal);
        return { loss: sums.reduce((a, b) => a + b, 0) / evalTokens, tokens: evalTokens };
      },
      sync: () => stepper.sync(),
      async close() {
        await stepper.close();
        lora?.dispose();
      },
    };
  },
};

/** Validation micro-batches, longest first so padding stays small; order fixed so the loss is reproducible. */
function evalBatches(val: readonly EncodedExample[], size: number): LabelledBatch[] {
  const order = val.map((_, i) => i).sort((a, b) => val[b]!.inputIds.length - val[a]!.inputIds.length || a - b);
  const out: LabelledBatch[] = [];
  for (let i = 0; i < order.length; i += size) {
    const idx = order.slice(i, i + size);
    out.push({ inputIds: idx.map((k) => val[k]!.inputIds), labels: idx.map((k) => val[k]!.labels) });
  }
  return out;
}
