import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeOutput } from '../io/write-output.js';
import { parseJsonAs } from '../data/parse-json-as.js';

/** Every record has a step (truncation keys on it); the union below says which keys go together. */
const logLineSchema = z.looseObject({ step: z.number() });

/** One line of train_log.jsonl; keys as the Hugging Face Trainer's log history names them. */
export type TrainLogRecord =
  | ({ step: number; epoch: number; loss: number; lr: number; grad_norm: number; tokens_per_sec: number } & DpoLogFields)
  | ({ step: number; epoch: number; eval_loss: number } & DpoLogFields);

/** DPO runs add TRL's keys: rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies (eval_… for evaluations). */
type DpoLogFields = { [key: `${'' | 'eval_'}rewards/${string}`]: number };

export function appendTrainLog(path: string, rec: TrainLogRecord): void {
  appendFileSync(path, `${JSON.stringify(rec)}\n`);
}

export function readTrainLog(path: string): TrainLogRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [parseJsonAs(l, logLineSchema) as TrainLogRecord];
      } catch {
        return []; // a line cut short by a kill
      }
    });
}

/** Drops records after `step` (a killed run may have logged steps past its last checkpoint). */
export function truncateTrainLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readTrainLog(path).filter((r) => r.step <= step);
  writeOutput(path, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
}
