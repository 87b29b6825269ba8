import { constraintCount, type ProvenanceStore, type RoundStats } from '../store/provenance-store.js';

/** One Evol-Instruct round's kept items, and how far they grew from the input (round 0). */
export interface RoundGrowth extends RoundStats {
  /** Mean instruction length (characters of instruction + input) over round 0's; null without a round 0. */
  lengthGrowth: number | null;
  /** Mean constraint words over round 0's; null without a round 0 or when it had none. */
  constraintGrowth: number | null;
}

const fmt = (x: number, d = 1) => x.toFixed(d);
const ratio = (x: number, base: number | undefined) => (base !== undefined && base > 0 ? x / base : null);

/**
 * The complexity growth per evol round, for `stats` and the report: mean instruction length, constraint words and
 * judge score of each round's kept items (WizardLM's claim is that they rise round by round). Round 0 is the input:
 * the imported `--from` file, or (`--from-run`) the kept items no evolution made, which have no provenance rows and
 * are measured here (their judge score is not read: null). Empty for a run with no evolution.
 */
export function evolRoundGrowth(prov: ProvenanceStore): RoundGrowth[] {
  const all = prov.roundStats();
  const rounds = all.filter((r) => r.method === 'evol');
  if (rounds.length === 0) return [];
  let input = all.find((r) => r.method === 'source');
  if (!input) {
    const roots = prov.keptOfRound(0);
    const n = Math.max(1, roots.length);
    input = {
      method: 'source',
      round: 0,
      items: roots.length,
      kept: roots.length,
      meanInstructionChars: roots.reduce((a, r) => a + [...r.instruction].length + [...r.input].length, 0) / n,
      meanConstraints: roots.reduce((a, r) => a + constraintCount(r.instruction), 0) / n,
      meanJudgeScore: null,
      drops: {},
    };
  }
  const base = input;
  return [input, ...rounds].map((r) => ({ ...r, lengthGrowth: ratio(r.meanInstructionChars, base.meanInstructionChars), constraintGrowth: ratio(r.meanConstraints, base.meanConstraints) }));
}

const label = (r: RoundGrowth) => (r.round === 0 ? 'round 0 (input)' : `round ${r.round}`);
const times = (x: number | null) => (x === null || x === 1 ? '' : ` (×${fmt(x, 2)})`);
const drops = (d: Record<string, number>) =>
  Object.entries(d)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** The terminal lines of `stats`: one per round. */
export function roundGrowthLines(rounds: readonly RoundGrowth[]): string[] {
  if (rounds.length === 0) return [];
  return [
    'evol rounds (kept items: mean instruction length, constraint words, judge score):',
    ...rounds.map((r) => {
      const judge = r.meanJudgeScore === null ? 'not judged' : `judge ${fmt(r.meanJudgeScore, 2)}`;
      const dropped = drops(r.drops);
      return `  ${label(r)}: ${r.kept} of ${r.items} kept, ${fmt(r.meanInstructionChars)} chars${times(r.lengthGrowth)}, ${fmt(r.meanConstraints, 2)} constraints${times(r.constraintGrowth)}, ${judge}${dropped ? `; dropped ${dropped}` : ''}`;
    }),
  ];
}

/** The report's section (Markdown lines): a table of the rounds. */
export function roundGrowthMarkdown(rounds: readonly RoundGrowth[]): string[] {
  if (rounds.length === 0) return [];
  const md = [
    '## Evol rounds',
    '',
    'Kept items of each round; growth is relative to round 0 (the input). Constraint words are a rough count of conditions (must, at least, without, only…).',
    '',
    '| round | items | kept | instruction chars | growth | constraint words | growth | judge score | dropped |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rounds) {
    const g = (x: number | null) => (x === null ? '–' : `×${fmt(x, 2)}`);
    md.push(`| ${label(r)} | ${r.items} | ${r.kept} | ${fmt(r.meanInstructionChars)} | ${g(r.lengthGrowth)} | ${fmt(r.meanConstraints, 2)} | ${g(r.constraintGrowth)} | ${r.meanJudgeScore === null ? '–' : fmt(r.meanJudgeScore, 2)} | ${drops(r.drops) || '–'} |`);
  }
  md.push('');
  return md;
}
