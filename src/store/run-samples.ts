import type { Sample } from '../data/sample.js';
import { RunStore } from './run-store.js';

/** The samples of a run that go on to training: accepted by review, or kept and not rejected by review. */
export function loadRunSamples(runDir: string): Sample[] {
  const store = RunStore.open(runDir);
  try {
    return store.usableItems().map((i) => ({ instruction: i.instruction, input: i.input, output: i.output }));
  } finally {
    store.close();
  }
}
