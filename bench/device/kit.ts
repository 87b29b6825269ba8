/**
 * The device kit's Node half, bundled into one file by bench/device/pack.sh and run by bench/device/run.sh (which
 * also runs the Python half: random weights, the PyTorch + PEFT anchor and the real-PEFT check). Each stage writes
 * its figures to WORK/fig-<stage>.json; `merge` gathers them (and the Python ones) into one figures.json.
 *
 *   node kit.mjs STAGE[,STAGE…] --work DIR [--small] [--backend webgpu] [--out FILE]
 *
 * Stages: probe (adapter + matMul peak), models (checkpoints + plan.json), train (every run of the plan) or
 * train=NAME (one run), peft (adapters of each type + our logits), merge (→ --out). Several stages in one call share
 * one process, so a software adapter compiles each kernel once (the --local test's time).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend, type BackendInfo, type BackendName } from '../../src/model/backend.js';
import { matmulGflops, parseShapes, runTrainBench, type TrainBenchFigures } from '../train-run.js';
import { mergeFigures } from './kit-figures.js';
import { writeKitModels, type KitPlan } from './kit-models.js';
import { writePeftCases } from './kit-peft.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    work: { type: 'string' },
    small: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'webgpu' },
    out: { type: 'string' },
  },
});
const work = values.work;
if (!work || positionals.length !== 1) {
  console.error('usage: kit.mjs probe|models|train[=NAME]|peft|merge[,…] --work DIR [--small] [--backend NAME] [--out FILE]');
  process.exit(2);
}
const small = values.small === true;
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const save = (name: string, figures: unknown): void => writeFileSync(join(work, `fig-${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);

let backend: BackendInfo | null = null;
const started = async (): Promise<BackendInfo> => (backend ??= await selectBackend(values.backend as BackendName));

async function probe(): Promise<void> {
  const b = await started();
  const t0 = performance.now();
  // Cubes up to the size where a GPU's matMul levels off, and this bench's most common model shape.
  const sizes: Array<[number, number, number, number]> = small
    ? [[64, 64, 64, 2], [128, 128, 128, 2]]
    : [[1024, 1024, 1024, 20], [2048, 2048, 2048, 20], [4096, 4096, 4096, 10], [1024, 576, 1536, 20], [1024, 1536, 8960, 10]];
  const matmul: Array<{ m: number; k: number; n: number; gflops: number }> = [];
  // Saved after every size, so that a timeout keeps the sizes measured so far.
  const write = () =>
    save('probe', {
      backend: b.name,
      adapter: { name: b.device, software: b.software === true, limits: b.limits ?? null },
      matmul,
      matmulPeakGflops: Math.max(0, ...matmul.map((x) => x.gflops)),
      seconds: (performance.now() - t0) / 1000,
    });
  write();
  for (const [m, k, n, reps] of sizes) {
    const gflops = await matmulGflops(m, k, n, reps);
    log(`matMul ${m}x${k}x${n}: ${gflops.toPrecision(4)} GFLOP/s`);
    matmul.push({ m, k, n, gflops });
    write();
  }
}

function readPlan(): KitPlan {
  const file = join(work!, 'models', 'plan.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: run the models stage first`);
  return JSON.parse(readFileSync(file, 'utf8')) as KitPlan;
}

async function train(only: string | null): Promise<void> {
  const plan = readPlan();
  const runs = only === null ? plan.runs : plan.runs.filter((r) => r.name === only);
  if (runs.length === 0) throw new Error(`no run named "${only}" in the plan (${plan.runs.map((r) => r.name).join(', ')})`);
  for (const run of runs) {
    const model = plan.models.find((m) => m.name === run.model)!;
    if (!existsSync(join(model.dir, 'model.safetensors')) && !existsSync(join(model.dir, 'model.safetensors.index.json'))) {
      throw new Error(`${model.dir} has no weights: make_weights.py fills them on the device (it needs torch and transformers)`);
    }
    const b = await started();
    const f: TrainBenchFigures = await runTrainBench({ backend: b.name, workers: 1, steps: run.steps, shapes: parseShapes(run.shapes), small, modelDir: model.dir, baseWeights: run.baseWeights, referenceMatmul: false, log }, b);
    save(`train-${run.name.replace(/[^A-Za-z0-9.-]/g, '_')}`, { run: run.name, modelName: run.model, shapeOf: model.shapeOf, ...f });
  }
}

async function peft(): Promise<void> {
  await started();
  const t0 = performance.now();
  const r = await writePeftCases(work!, small, log);
  save('peft-ours', { ...r, seconds: (performance.now() - t0) / 1000 });
}

for (const stage of positionals[0]!.split(',')) {
  const t0 = performance.now();
  log(`== kit stage ${stage}`);
  if (stage === 'probe') await probe();
  else if (stage === 'models') await writeKitModels(work, small);
  else if (stage === 'train') await train(null);
  else if (stage.startsWith('train=')) await train(stage.slice('train='.length));
  else if (stage === 'peft') await peft();
  else if (stage === 'merge') {
    if (!values.out) throw new Error('merge needs --out FILE');
    const figures = mergeFigures(work, readdirSync(work));
    writeFileSync(values.out, `${JSON.stringify(figures, null, 2)}\n`);
    for (const line of figures.summary) log(line);
  } else throw new Error(`unknown stage "${stage}"`);
  log(`== kit stage ${stage} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
