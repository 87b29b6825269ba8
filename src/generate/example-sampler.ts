import type { SeedTask } from '../data/seed-tasks.js';
import type { ExampleTask } from './prompt-template.js';
import { sampleWithoutReplacement } from '../random.js';

export interface SampledExamples {
  examples: ExampleTask[];
  /** Provenance recorded with the request: 'seed:<id>' or the kept item's id. */
  refs: string[];
}

/**
 * Picks the worked examples of one request: seeds, plus — once the run has `machineAfter` kept samples — a share
 * drawn from the run's own kept tasks (Self-Instruct mixes both; Alpaca used seeds only, i.e. share 0).
 * The pool of kept tasks is every kept task of earlier sessions plus a few of each answer in this one, a random
 * subset of the run that is cheap to keep up to date.
 */
export class ExampleSampler {
  private readonly seeds: Array<{ ref: string; task: ExampleTask }>;
  private readonly machine: Array<{ ref: string; task: ExampleTask }> = [];

  constructor(
    seeds: SeedTask[],
    private readonly opts: { numExamples: number; machineShare: number; machineAfter: number; random: () => number },
  ) {
    this.seeds = seeds.map((s) => ({
      ref: `seed:${s.id}`,
      task: { instruction: s.instruction, input: s.instances[0]!.input, output: s.instances[0]!.output },
    }));
  }

  addKept(id: number, task: ExampleTask): void {
    this.machine.push({ ref: String(id), task });
  }

  /** `keptInRun`: the run's kept samples now (the pool may hold fewer). */
  sample(keptInRun: number = this.machine.length): SampledExamples {
    const { numExamples, machineShare, machineAfter, random } = this.opts;
    const fromMachine = keptInRun >= Math.max(machineAfter, 1) && this.machine.length > 0 ? Math.round(numExamples * machineShare) : 0;
    const picked = [
      ...sampleWithoutReplacement(this.seeds, numExamples - fromMachine, random),
      ...sampleWithoutReplacement(this.machine, fromMachine, random),
    ];
    return { examples: picked.map((p) => p.task), refs: picked.map((p) => p.ref) };
  }
}
