/**
 * Gathers the kit's fragments (fig-*.json from the Node and Python stages, stages.jsonl and kit.json from run.sh)
 * into one figures.json, with the issue's two GPU goals worked out: training FLOP/s as a share of the measured
 * matMul peak (goal ≥ 0.5), and our tokens/s over PyTorch fp32's at the same model and shape (goal ≥ 0.25).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainBenchFigures } from '../train-run.js';

interface AnchorRun {
  model: string;
  shape: string;
  dtype: string;
  tokensPerSec: number;
}

export interface KitFigures {
  kit: Record<string, unknown>;
  stages: Array<{ stage: string; rc: number; seconds: number }>;
  probe: { matmulPeakGflops: number; [k: string]: unknown } | null;
  weights: Record<string, unknown> | null;
  train: Array<TrainBenchFigures & { run: string; modelName: string; shapeOf: string }>;
  anchor: { skipped?: string; runs?: AnchorRun[]; [k: string]: unknown } | null;
  peft: { ours: Record<string, unknown> | null; check: { skipped?: string; checks?: Array<Record<string, unknown>>; [k: string]: unknown } | null };
  goals: {
    matmulShare: Array<{ run: string; shape: string; share: number; goal: 0.5; met: boolean }>;
    vsTorchFp32: Array<{ run: string; shape: string; ratio: number; goal: 0.25; met: boolean }>;
  };
  summary: string[];
}

export function mergeFigures(work: string, files: string[]): KitFigures {
  const read = <T>(name: string): T | null => (files.includes(name) ? (JSON.parse(readFileSync(join(work, name), 'utf8')) as T) : null);
  const stages = files.includes('stages.jsonl')
    ? readFileSync(join(work, 'stages.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stage: string; rc: number; seconds: number })
    : [];
  const probe = read<KitFigures['probe']>('fig-probe.json');
  const train = files.filter((f) => f.startsWith('fig-train-')).sort().map((f) => read<KitFigures['train'][number]>(f)!);
  const anchor = read<NonNullable<KitFigures['anchor']>>('fig-anchor.json');
  const peftCheck = read<NonNullable<KitFigures['peft']['check']>>('fig-peft.json');
  const goals: KitFigures['goals'] = { matmulShare: [], vsTorchFp32: [] };
  const summary: string[] = [];
  if (probe) summary.push(`adapter: ${String((probe['adapter'] as { name?: string } | undefined)?.name)}; matMul peak ${probe.matmulPeakGflops.toPrecision(4)} GFLOP/s`);
  for (const t of train) {
    for (const s of t.shapes) {
      const parts = [`${t.run} ${s.shape}: ${s.tokensPerSec.toFixed(1)} tokens/s, ${s.gflops.toPrecision(3)} GFLOP/s`];
      if (probe && probe.matmulPeakGflops > 0) {
        const share = s.gflops / probe.matmulPeakGflops;
        goals.matmulShare.push({ run: t.run, shape: s.shape, share, goal: 0.5, met: share >= 0.5 });
        parts.push(`${(100 * share).toFixed(1)}% of the matMul peak`);
      }
      const torch = anchor?.runs?.find((a) => a.model === t.modelName && a.shape === s.shape && a.dtype === 'float32');
      if (torch) {
        const ratio = s.tokensPerSec / torch.tokensPerSec;
        goals.vsTorchFp32.push({ run: t.run, shape: s.shape, ratio, goal: 0.25, met: ratio >= 0.25 });
        parts.push(`${ratio.toFixed(2)}x PyTorch fp32 (${torch.tokensPerSec.toFixed(1)} tokens/s)`);
      }
      summary.push(parts.join(', '));
    }
  }
  if (anchor?.skipped) summary.push(`PyTorch anchor skipped: ${anchor.skipped}`);
  if (peftCheck?.skipped) summary.push(`real-PEFT check skipped: ${peftCheck.skipped}`);
  else if (peftCheck?.checks) {
    const bad = peftCheck.checks.filter((c) => c['ok'] !== true);
    summary.push(`real-PEFT check: ${peftCheck.checks.length - bad.length}/${peftCheck.checks.length} adapters match${bad.length ? ` (differ: ${bad.map((c) => `${String(c['arch'])} ${String(c['adapter'])}`).join(', ')})` : ''}`);
  }
  for (const s of stages) if (s.rc !== 0) summary.push(`stage ${s.stage} failed (exit ${s.rc}${s.rc === 124 ? ': timed out' : ''})`);
  return {
    kit: read<Record<string, unknown>>('kit.json') ?? {},
    stages,
    probe,
    weights: read<Record<string, unknown>>('fig-weights.json'),
    train,
    anchor,
    peft: { ours: read<Record<string, unknown>>('fig-peft-ours.json'), check: peftCheck },
    goals,
    summary,
  };
}
